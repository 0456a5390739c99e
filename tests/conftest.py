"""Shared fixtures: synthetic OHLCV frames and small `MarketData` bundles."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import settings

from regime_trader.config import Config
from regime_trader.envs.market import MarketData

# Runs in tests log JSON lines: an MLflow SQLite store per temporary run folder costs seconds
# each. Tests that check MLflow itself ask for it explicitly.
os.environ.setdefault("REGIME_TRADER_TRACKING", "jsonl")

# No test asserts wall-clock time, hypothesis examples included: its default 200 ms deadline
# fails tests on a busy CI machine for no bug.
settings.register_profile("regime-trader", deadline=None)
settings.load_profile("regime-trader")


@pytest.fixture(autouse=True)
def _restore_global_rng() -> Iterator[None]:
    """Save Python's, NumPy's legacy and torch's global RNG states around every test.

    A test that seeds or draws from a global generator (``random.seed``, ``np.random.seed``,
    ``torch.manual_seed``; training seeds all three) leaves the state as it found it, so no
    test's outcome depends on which tests ran before it.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global RNG is what leaks
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def make_ohlcv(
    n: int = 600,
    *,
    seed: int = 0,
    drift: float = 0.0003,
    vol: float = 0.01,
    start: float = 100.0,
    first_day: str = "2010-01-01",
) -> pd.DataFrame:
    """A geometric random walk of ``n`` daily bars with consistent OHLC (UTC index).

    ``open[t]`` gaps from ``close[t-1]``; ``high``/``low`` bracket open and close.
    """
    rng = np.random.default_rng(seed)
    log_ret = drift + vol * rng.standard_normal(n)
    close = start * np.exp(np.cumsum(log_ret))
    prev = np.concatenate([[start], close[:-1]])
    open_ = prev * np.exp(0.25 * vol * rng.standard_normal(n))
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * (1.0 + np.abs(vol * 0.5 * rng.standard_normal(n)))
    low = bottom * (1.0 - np.abs(vol * 0.5 * rng.standard_normal(n)))
    volume = rng.uniform(1e5, 1e6, n)
    idx = pd.date_range(first_day, periods=n, freq="D", tz="UTC", name="timestamp")
    idx = pd.DatetimeIndex(idx.as_unit("ns"), freq=None)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=idx
    )


def fraction_config(**sections: dict) -> Config:
    """The default config with a fraction split (no dates) plus section overrides."""
    cfg = Config().override(data={"train_end": None, "val_end": None})
    return cfg.override(**sections) if sections else cfg


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write an OHLCV frame as a CSV that `load_ohlcv` reads back."""
    frame.rename_axis("timestamp").to_csv(path, index=True)
    return path


@pytest.fixture(scope="session")
def ohlcv_frame() -> pd.DataFrame:
    """600 daily bars of a seeded geometric random walk."""
    return make_ohlcv(600, seed=0)


@pytest.fixture(scope="session")
def frac_config() -> Config:
    """Default config with a 70/15/15 fraction split and a small window."""
    return fraction_config(env={"window": 10})


@pytest.fixture(scope="session")
def prepared(ohlcv_frame: pd.DataFrame, frac_config: Config):
    """`training.prepare` of the synthetic frame (features, regimes, split, MarketData)."""
    from regime_trader.training import prepare

    return prepare(frac_config, ohlcv=ohlcv_frame)


@pytest.fixture(scope="session")
def market(prepared) -> MarketData:
    """`MarketData` of the synthetic frame (next-open fills)."""
    return prepared.market


def random_market(
    n: int = 80, n_features: int = 3, *, seed: int = 0, fill: str = "next_open"
) -> MarketData:
    """A tiny `MarketData` with random features, prices and regimes, built directly."""
    rng = np.random.default_rng(seed)
    frame = make_ohlcv(n, seed=seed + 1000, vol=0.02)
    features = rng.standard_normal((n, n_features)).astype(np.float32)
    regimes = rng.integers(-1, 4, n)
    names = [f"f{i}" for i in range(n_features)]
    return MarketData.build(features, frame, regimes, names=names, fill=fill)


@pytest.fixture()
def tiny_market() -> MarketData:
    """80 bars, 3 random features, random regimes, next-open fills."""
    return random_market()


# Factories as fixtures, so test modules never import this file by name.
@pytest.fixture(scope="session")
def ohlcv_factory():
    """``ohlcv_factory(n, seed=..., drift=..., vol=...)`` → synthetic OHLCV frame."""
    return make_ohlcv


@pytest.fixture(scope="session")
def config_factory():
    """``config_factory(**sections)`` → default config with a fraction split plus overrides."""
    return fraction_config


@pytest.fixture(scope="session")
def market_factory():
    """``market_factory(n, n_features, seed=..., fill=...)`` → random `MarketData`."""
    return random_market


@pytest.fixture(scope="session")
def csv_writer():
    """``csv_writer(frame, path)`` → path of a CSV `load_ohlcv` reads."""
    return write_csv
