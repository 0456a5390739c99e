"""Kill a training run with SIGKILL after a checkpoint, resume it, get the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file

from regime_trader.api import resume_run
from regime_trader.config import Config
from regime_trader.errors import ConfigError
from regime_trader.training import train

CFG = {
    "data": {"train_end": None, "val_end": None},
    "env": {"window": 10},
    "agent": {"hidden": [32, 32], "learning_starts": 500, "batch_size": 32},
    "train": {"total_steps": 6000, "eval_every": 1000, "n_envs": 8, "seed": 3},
}


def _config(csv: Path, replay: str = "uniform") -> Config:
    raw = {**CFG, "data": {**CFG["data"], "source": str(csv)}, "replay": {"kind": replay}}
    return Config.from_dict(raw)


def _weights(run: Path) -> dict[str, np.ndarray]:
    return load_file(str(run / "model.safetensors"))


def _kill_after_first_checkpoint(cfg: Config, run: Path) -> None:
    run.mkdir(parents=True)
    (run / "cfg.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    cmd = [
        sys.executable,
        "-m",
        "regime_trader.cli",
        "train",
        "--config",
        str(run / "cfg.yaml"),
        "--out",
        str(run),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    ckpt = run / "checkpoint.pt"
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run never wrote a checkpoint"
    log = (run / "train_log.jsonl").read_text().splitlines()
    assert 1 <= len(log) < 6, "killed too late to test a resume"


@pytest.mark.parametrize("replay", ["uniform", "prioritized"])
def test_kill_and_resume_equals_uninterrupted(tmp_path, ohlcv_frame, replay):
    csv = tmp_path / "bars.csv"
    ohlcv_frame.to_csv(csv, index_label="timestamp")
    cfg = _config(csv, replay)
    full = train(cfg, tmp_path / "full", progress=False)
    killed = tmp_path / "killed"
    _kill_after_first_checkpoint(cfg, killed)
    resumed = resume_run(killed, progress=False)
    assert resumed.env_steps == full.env_steps and resumed.updates == full.updates
    assert resumed.best_val_sharpe == full.best_val_sharpe
    a, b = _weights(tmp_path / "full"), _weights(killed)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert (killed / "train_log.jsonl").read_text() == (
        tmp_path / "full" / "train_log.jsonl"
    ).read_text()


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no config.yaml"):
        resume_run(tmp_path)
