"""Kill a training run (SIGKILL, or an exception right after a checkpoint) and resume it: the
result equals the uninterrupted run's, after a validation or between two (wall-clock)."""

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
from regime_trader.training import checkpoint, loop, prepare, train

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
    log = run / "train_log.jsonl"  # none yet when the first checkpoint was a wall-clock one
    assert not log.exists() or len(log.read_text().splitlines()) < 6, "killed too late"


@pytest.mark.slow  # a real process: ~30 s each on two busy cores (the fast suite has the
# in-process kill below)
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


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])
    assert (a / "train_log.jsonl").read_text() == (b / "train_log.jsonl").read_text()


class Killed(Exception):
    """Stands in for a kill right after a checkpoint was written."""


def _kill_at_checkpoint(monkeypatch, n: int) -> list[int]:
    """Make the ``n``-th checkpoint of the next run its last; returns the steps saved."""
    real, steps = checkpoint.save_checkpoint, []

    def save(run_dir: Path, state: dict) -> None:
        real(run_dir, state)
        steps.append(state["counters"]["steps"])
        if len(steps) == n:
            raise Killed

    monkeypatch.setattr(checkpoint, "save_checkpoint", save)
    return steps


class FakeClock:
    """A monotonic clock that advances one second per reading (no sleeping)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.slow  # ~2 s on two busy cores
def test_wall_clock_checkpoint_between_validations_resumes_exactly(
    tmp_path, ohlcv_frame, monkeypatch
):
    cfg = Config.from_dict({
        **CFG, "train": {**CFG["train"], "total_steps": 2400, "eval_every": 1600,
                         "checkpoint_seconds": 20},
    })  # fmt: skip
    data = prepare(cfg, ohlcv=ohlcv_frame)
    train(cfg, tmp_path / "full", data=data, progress=False)
    monkeypatch.setattr(loop, "clock", FakeClock())
    saved = _kill_at_checkpoint(monkeypatch, n=3)
    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        train(cfg, killed, data=data, progress=False)
    # three wall-clock checkpoints, all before the first validation (at 1,600 steps)
    assert len(saved) == 3 and saved == sorted(saved) and saved[-1] < cfg.train.eval_every
    assert not (killed / "train_log.jsonl").exists()
    monkeypatch.undo()
    resumed = train(cfg, killed, data=data, progress=False, resume=True)
    assert resumed.resumed_from == saved[-1]
    assert resumed.steps_this_call == cfg.train.total_steps - saved[-1]
    _assert_same_run(tmp_path / "full", killed)


@pytest.mark.slow
def test_enhanced_net_with_regime_replay_resumes_exactly(tmp_path, ohlcv_frame, monkeypatch):
    cfg = Config.from_dict({
        **CFG,
        "agent": {"net": "enhanced", "d_model": 16, "heads": 2, "learning_starts": 200,
                  "batch_size": 32},
        "replay": {"kind": "regime"},
        "train": {**CFG["train"], "total_steps": 1600, "eval_every": 400},
    })  # fmt: skip
    data = prepare(cfg, ohlcv=ohlcv_frame)
    full = train(cfg, tmp_path / "full", data=data, progress=False)
    _kill_at_checkpoint(monkeypatch, n=2)
    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        train(cfg, killed, data=data, progress=False)
    monkeypatch.undo()
    resumed = train(cfg, killed, data=data, progress=False, resume=True)
    assert resumed.resumed_from == 800
    assert (resumed.env_steps, resumed.updates) == (full.env_steps, full.updates)
    assert resumed.best_val_sharpe == full.best_val_sharpe
    _assert_same_run(tmp_path / "full", killed)
