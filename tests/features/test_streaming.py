"""Streaming features: bar-by-bar updates equal the batch computation, in bounded memory."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from _features import SMALL_FEATURES
from regime_trader.config import FeatureConfig
from regime_trader.data import load_ohlcv
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import compute_features, feature_lookback
from regime_trader.features.streaming import FeaturePipeline
from regime_trader.features.timeframes import multi_timeframe_features

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


class _CountingHandle:
    """A TA-Lib stream handle that counts its ``update`` calls."""

    def __init__(self, handle: object, name: str, calls: Counter[str]) -> None:
        self.handle, self.name, self.calls = handle, name, calls

    def update(self, *args: float) -> object:
        self.calls[self.name] += 1
        return self.handle.update(*args)  # type: ignore[attr-defined]


def test_memory_is_bounded_and_update_work_is_constant(ohlcv_factory, monkeypatch) -> None:
    """After the warm-up an update is O(1) TA-Lib work: one step of each stream handle, no
    batch recomputation, and a ring buffer that never grows (counts, not a stopwatch)."""
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
    batch_calls: Counter[str] = Counter()
    stream_calls: Counter[str] = Counter()
    names = [feed.name for feed in pipe._feeds.values()]
    for name in names:  # any batch call would recompute the series seen so far
        batch = getattr(talib, name)

        def counted(*args, _name=name, _batch=batch, **kwargs):
            batch_calls[_name] += 1
            return _batch(*args, **kwargs)

        monkeypatch.setattr(talib, name, counted)
    for feed in pipe._feeds.values():
        feed.handle = _CountingHandle(feed.handle, feed.name, stream_calls)
    sizes = set()
    for bar in bars[100:]:
        pipe.update(bar)
        sizes.add((pipe.buffered, pipe._closes.size))
    assert sizes == {(21, 42)}  # the ring buffer never grows
    assert not batch_calls, f"batch recomputation after the warm-up: {dict(batch_calls)}"
    assert stream_calls == dict.fromkeys(names, len(bars) - 100)  # one step per bar each


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


SMALL = SMALL_FEATURES


def minutes_with_gaps(n: int, seed: int) -> pd.DataFrame:
    """Minute bars; ~5% of steps skip 2-30 minutes and one skips two days (a weekend)."""
    rng = np.random.default_rng(seed)
    steps = np.ones(n, dtype=np.int64)
    gaps = rng.random(n) < 0.05
    steps[gaps] = rng.integers(2, 31, gaps.sum())
    steps[n // 2] = 2 * 24 * 60 + 7
    idx = pd.Timestamp("2024-01-05 20:13", tz="UTC") + pd.to_timedelta(np.cumsum(steps), "min")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.001, n)))
    data = {"open": open_, "high": high, "low": low, "close": close, "volume": np.ones(n)}
    return pd.DataFrame(data, index=pd.DatetimeIndex(idx, name="timestamp"))


def assert_matches_timeframes(df: pd.DataFrame, cfg: FeatureConfig) -> pd.DataFrame:
    stream = feed(df, FeaturePipeline(cfg))
    batch = multi_timeframe_features(df, cfg.timeframes, cfg)
    assert list(stream.columns) == list(batch.columns)
    np.testing.assert_array_equal(stream.isna().to_numpy(), batch.isna().to_numpy())
    np.testing.assert_allclose(stream.to_numpy(), batch.to_numpy(), rtol=1e-9, atol=1e-9)
    return batch


def test_timeframes_on_daily_data_equal_batch() -> None:
    if not SPX.exists():
        pytest.skip(f"{SPX} not present")
    df = load_ohlcv(SPX).iloc[:1500]
    cfg = FeatureConfig(timeframes=("W", "ME"))
    batch = assert_matches_timeframes(df, cfg)
    assert batch.iloc[-1].notna().all()  # both coarse warm-ups end inside the series


def test_timeframes_on_minute_data_with_gaps_equal_batch() -> None:
    cfg = SMALL.model_copy(update={"timeframes": ("5min", "60min", "240min")})
    batch = assert_matches_timeframes(minutes_with_gaps(3000, seed=4), cfg)
    assert batch.iloc[-1].notna().all()


def test_timeframes_need_timestamps(ohlcv_factory) -> None:
    pipe = FeaturePipeline(FeatureConfig(timeframes=("W",)))
    assert pipe.names[-1] == "range_1@W"
    bar = ohlcv_factory(2, seed=0).iloc[0]
    with pytest.raises(DataError, match="features.timeframes needs one"):
        pipe.update_values(bar.to_dict())
