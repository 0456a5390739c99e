"""Streaming features: bar-by-bar updates equal the batch computation, in bounded memory."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regime_trader.config import FeatureConfig
from regime_trader.data import load_ohlcv
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import compute_features, feature_lookback
from regime_trader.features.streaming import FeaturePipeline

SPX = Path(__file__).resolve().parents[3] / "shared" / "data" / "daily"
SPX = SPX / "SPX_1d_yahoo_1999-2018.csv.gz"


def feed(df: pd.DataFrame, pipe: FeaturePipeline) -> pd.DataFrame:
    """Feed every bar of `df` through `pipe`; return the rows as a frame."""
    rows = [
        pipe.update({"timestamp": ts, "open": o, "high": h, "low": lo, "close": c, "volume": v})
        for ts, o, h, lo, c, v in zip(
            df.index, df["open"], df["high"], df["low"], df["close"], df["volume"], strict=True
        )
    ]
    return pd.DataFrame(rows)


def assert_matches_batch(stream: pd.DataFrame, df: pd.DataFrame, cfg: FeatureConfig) -> None:
    batch = compute_features(df, cfg)
    assert list(stream.columns) == list(batch.columns)
    assert stream.index.equals(batch.index)
    # Same warm-up rows, then equal within 1e-9 (absolute, or relative for large values).
    np.testing.assert_array_equal(stream.isna().to_numpy(), batch.isna().to_numpy())
    np.testing.assert_allclose(stream.to_numpy(), batch.to_numpy(), rtol=1e-9, atol=1e-9)
    assert stream.iloc[feature_lookback(cfg) :].notna().all().all()


def test_random_walk_bar_by_bar_equals_batch(ohlcv_factory) -> None:
    df = ohlcv_factory(2000, seed=3, vol=0.02)
    assert_matches_batch(feed(df, FeaturePipeline()), df, FeatureConfig())


def test_spx_bar_by_bar_equals_batch() -> None:
    if not SPX.exists():
        pytest.skip(f"{SPX} not present")
    df = load_ohlcv(SPX).iloc[:1500]
    assert_matches_batch(feed(df, FeaturePipeline()), df, FeatureConfig())


def test_other_periods_and_a_longer_buffer(ohlcv_factory) -> None:
    cfg = FeatureConfig(
        adx_period=5,
        slope_period=7,
        persistence_window=9,
        rsi_period=4,
        stoch_k=6,
        stoch_slow=1,
        stoch_d=4,
        bb_period=11,
        bb_std=1.0,
        return_lags=(1, 3, 30),
        vol_window=8,
    )
    df = ohlcv_factory(400, seed=5)
    assert_matches_batch(feed(df, FeaturePipeline(cfg, history=64)), df, cfg)


def test_flat_prices_match_batch(ohlcv_factory) -> None:
    """Flat stretches hit TA-Lib's zero-range branches (stochastic, bands, RSI)."""
    df = ohlcv_factory(300, seed=1)
    df.iloc[100:160, :4] = 50.0
    assert_matches_batch(feed(df, FeaturePipeline()), df, FeatureConfig())


def test_memory_is_bounded_and_updates_are_fast(ohlcv_factory) -> None:
    df = ohlcv_factory(2000, seed=7)
    pipe = FeaturePipeline()
    assert pipe.history == 21  # max(persistence 20, vol 20, ret 20) + 1
    bars = [
        dict(zip(["high", "low", "close"], r, strict=True))
        for r in df[["high", "low", "close"]].to_numpy()
    ]
    for bar in bars[:100]:
        pipe.update(bar)
    assert not pipe.warming_up  # the warm-up bars are dropped once every TA-Lib handle is open
    sizes, times = set(), []
    for bar in bars[100:]:
        start = time.perf_counter()
        pipe.update(bar)
        times.append(time.perf_counter() - start)
        sizes.add((pipe.buffered, pipe._closes.size))
    assert sizes == {(21, 42)}  # the ring buffer never grows
    assert float(np.median(times)) < 1e-3, f"median update {np.median(times) * 1e6:.0f} us"


def test_series_bars_and_errors(ohlcv_factory) -> None:
    df = ohlcv_factory(40, seed=2)
    pipe = FeaturePipeline()
    row = pipe.update(df.iloc[0])  # a Series: its name is the timestamp
    assert row.name == df.index[0]
    with pytest.raises(DataError, match="does not follow"):
        pipe.update(df.iloc[0])
    with pytest.raises(DataError, match="lacks"):
        pipe.update({"timestamp": df.index[1], "close": 1.0})
    with pytest.raises(DataError, match="invalid prices"):
        pipe.update({"timestamp": df.index[1], "high": 1.0, "low": 2.0, "close": 1.5})
    with pytest.raises(ConfigError, match="history"):
        FeaturePipeline(history=5)
