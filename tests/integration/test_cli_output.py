"""What training prints: a bar on a terminal, plain lines elsewhere, no third-party INFO."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from regime_trader.training.tracking import NOISY_LOGGERS, quiet_library_logs
from regime_trader.utils.progress import TrainProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(bar: TrainProgress) -> None:
    """What the training loop sends: a start, plain steps, two validations, a stage change."""
    with bar:
        bar.update(0)
        bar.update(500, eps=0.5)
        bar.update(1000, eps=0.4, loss=0.0123, val_sharpe=0.81)
        bar.update(1500, stage="Advanced")
        bar.update(2000, eps=0.3, loss=float("nan"), val_sharpe=-0.2)


def test_plain_lines_only_at_validations() -> None:
    stream = io.StringIO()
    _feed(TrainProgress(2000, stream=stream))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("training 1,000/2,000 steps  ")
    assert lines[0].endswith("steps/s  eps 0.40  loss 0.0123  val Sharpe 0.81")
    assert lines[1].endswith("eps 0.30  loss -  val Sharpe -0.20  stage Advanced")


def test_disabled_prints_nothing() -> None:
    stream = io.StringIO()
    _feed(TrainProgress(2000, enabled=False, stream=stream))
    assert stream.getvalue() == ""


def test_a_terminal_gets_the_bar_not_lines() -> None:
    stream = _Terminal()
    _feed(TrainProgress(2000, stream=stream))
    text = stream.getvalue()
    assert "━" in text and "steps/s" in text  # the rich bar
    assert "training 1,000/2,000 steps  " not in text


def test_rate_counts_only_this_call_s_steps() -> None:
    bar = TrainProgress(10_000, stream=io.StringIO())
    with bar:
        bar.update(8_000)  # resumed from a checkpoint at 8,000 steps
        bar.update(8_000, val_sharpe=0.1)
    assert bar.fields["rate"] == 0.0


def test_quiet_library_logs_raises_info_loggers_only(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
    saved = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    try:
        logging.getLogger("mlflow").setLevel(logging.INFO)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        quiet_library_logs()
        assert logging.getLogger("mlflow").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("alembic").getEffectiveLevel() == logging.ERROR
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.slow
def test_subprocess_train_with_mlflow_is_quiet_and_logs_per_validation(
    tmp_path: Path, ohlcv_factory, csv_writer
) -> None:
    pytest.importorskip("mlflow")
    csv = csv_writer(ohlcv_factory(600, seed=4), tmp_path / "bars.csv")
    run_dir = tmp_path / "RUN"
    sets = ["train.total_steps=2000", "train.eval_every=1000", "agent.learning_starts=200"]
    sets += ["train.device=cpu", "tracking.backend=mlflow"]
    cmd = [sys.executable, "-m", "regime_trader.cli", "train", "--data", str(csv)]
    cmd += [arg for s in sets for arg in ("--set", s)] + ["--out", str(run_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "mlflow.db").is_file()  # tracking worked
    assert proc.stderr == ""
    assert "INFO" not in proc.stdout and "Creating initial" not in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("training ")]
    log = (run_dir / "train_log.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == sum("eval/val_sharpe" in json.loads(v) for v in log) == 2
    assert "steps/s" in proc.stdout.splitlines()[-2]  # the closing line
