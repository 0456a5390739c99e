"""Every phase 1-3 option trained end to end at a tiny budget through `training.train`,
then backtested from its run folder as a user would (`api.backtest_run`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from _evaluation import tiny_config
from regime_trader.api import backtest_run
from regime_trader.config import Config
from regime_trader.training import train

DAILY = Path(__file__).resolve().parents[3] / "shared" / "data" / "daily"


def _series(name: str) -> Path:
    path = DAILY / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


def _config(source: Path, **sections: dict) -> Config:
    """The shared tiny config, with run tracking left at its default (``auto``)."""
    return tiny_config(source, tracking={"backend": "auto"}, **sections)


def _train_and_backtest(cfg: Config, run: Path) -> dict:
    result = train(cfg, run, progress=False)
    assert result.env_steps == cfg.train.total_steps
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["env_steps"] for r in log] == [1504, 3000]
    assert all(math.isfinite(r["eval/val_sharpe"]) for r in log)
    assert all(math.isfinite(r["train/td_loss"]) for r in log)
    ev = backtest_run(run, cfg.data.source, run / "test", start=None, end=None, device="cpu")
    metrics = json.loads((run / "test" / "metrics.json").read_text())
    assert math.isfinite(metrics["strategy"]["sharpe"])
    return {
        "log": log,
        "evaluation": ev,
        "features": json.loads((run / "features.json").read_text()),
    }


@pytest.mark.slow  # ~3 s on two busy cores
def test_timeframes_on_daily_data(tmp_path) -> None:
    """Weekly bars join the observation; the backtest rebuilds the same columns."""
    cfg = _config(_series("AAPL_1d_yahoo_2004-2018.csv.gz"), features={"timeframes": ["W"]})
    out = _train_and_backtest(cfg, tmp_path / "run")
    names = out["features"]["scaler"]["names"]
    assert len(names) == 26 and names[13:] == [f"{n}@W" for n in names[:13]]
    assert out["features"]["lookback"] > 27  # the weekly warm-up is longer than the daily one
    saved = Config.from_yaml(tmp_path / "run" / "config.yaml")
    assert saved.features.timeframes == ("W",)


@pytest.mark.slow  # ~3 s on two busy cores
def test_regime_reward(tmp_path) -> None:
    """The Markov over-trading term (per position change) trains and backtests."""
    cfg = _config(
        _series("SPX_1d_yahoo_1999-2018.csv.gz"),
        reward={"kind": "regime", "overtrading_penalty": 2e-4},
    )
    _train_and_backtest(cfg, tmp_path / "run")
