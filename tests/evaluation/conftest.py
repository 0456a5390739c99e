"""A tiny trained run on a synthetic CSV, shared by the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from _evaluation import tiny_config


@pytest.fixture(scope="session")
def series_csv(tmp_path_factory, ohlcv_factory, csv_writer) -> Path:
    """1,200 daily bars of a seeded random walk, as a CSV."""
    path = tmp_path_factory.mktemp("series") / "walk.csv"
    return csv_writer(ohlcv_factory(1200, seed=3, drift=0.0005, vol=0.012), path)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, series_csv) -> Path:
    """A 3,000-step MLP run trained on `series_csv`."""
    from regime_trader.training import train

    run = tmp_path_factory.mktemp("runs") / "mlp"
    train(tiny_config(series_csv), run, progress=False)
    return run
