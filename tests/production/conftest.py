"""Tiny trained runs and packages shared by the production tests (3000 env steps each)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from regime_trader.config import Config

TINY = {
    "data": {"train_end": None, "val_end": None},
    "env": {"window": 10},
    "agent": {"hidden": [32, 32], "learning_starts": 500, "batch_size": 32},
    "train": {"total_steps": 3000, "eval_every": 1500, "n_envs": 8, "seed": 0},
}


@pytest.fixture(scope="session")
def bars(ohlcv_factory) -> pd.DataFrame:
    """700 daily bars of a seeded random walk."""
    return ohlcv_factory(700, seed=3)


@pytest.fixture(scope="session")
def bars_csv(bars, csv_writer, tmp_path_factory) -> Path:
    return csv_writer(bars, tmp_path_factory.mktemp("data") / "bars.csv")


def tiny_config(source: Path, seed: int = 0) -> Config:
    raw = {k: dict(v) for k, v in TINY.items()}
    raw["data"]["source"] = str(source)
    raw["train"]["seed"] = seed
    return Config.from_dict(raw)


def _train(source: Path, out: Path, seed: int) -> Path:
    from regime_trader.training import train

    train(tiny_config(source, seed), out, progress=False)
    return out


@pytest.fixture(scope="session")
def run_a(bars_csv, tmp_path_factory) -> Path:
    """A trained tiny run (seed 0) with a test backtest in ``test/``."""
    from regime_trader.api import backtest_run

    run = _train(bars_csv, tmp_path_factory.mktemp("runs") / "run_a", seed=0)
    backtest_run(run, str(bars_csv), run / "test", start="2011-09-01", device="cpu")
    return run


@pytest.fixture(scope="session")
def run_b(bars_csv, tmp_path_factory) -> Path:
    """A second tiny run (seed 1), no test backtest."""
    return _train(bars_csv, tmp_path_factory.mktemp("runs") / "run_b", seed=1)


@pytest.fixture(scope="session")
def package_a(run_a, tmp_path_factory) -> Path:
    from regime_trader.package import build_package

    return build_package(run_a, tmp_path_factory.mktemp("pkgs") / "model-a", version="1.0.0")


@pytest.fixture(scope="session")
def package_b(run_b, tmp_path_factory) -> Path:
    from regime_trader.package import build_package

    return build_package(run_b, tmp_path_factory.mktemp("pkgs") / "model-b", version="1.1.0")
