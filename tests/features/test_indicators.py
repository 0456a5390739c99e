"""Each scale-free wrapper against direct TA-Lib / numpy calls, and its declared lookback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from regime_trader.config import FeatureConfig
from regime_trader.features import indicators as ind


def make_ohlcv(seed: int = 0, n: int = 300) -> pd.DataFrame:
    """Geometric random walk with consistent OHLC (high >= max(o, c), low <= min(o, c))."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.005, n)))
    idx = pd.date_range("2001-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": np.nan}, index=idx
    )


@pytest.fixture
def bars() -> pd.DataFrame:
    return make_ohlcv()


def first_valid(x: np.ndarray) -> int:
    return int(np.argmax(~np.isnan(x)))


def hlc(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return df["high"].to_numpy(), df["low"].to_numpy(), df["close"].to_numpy()


@pytest.mark.parametrize("period", [5, 14, 30])
def test_adx(bars: pd.DataFrame, period: int) -> None:
    h, lo, c = hlc(bars)
    got = ind.adx(h, lo, c, period)
    assert np.array_equal(got, talib.ADX(h, lo, c, timeperiod=period) / 100, equal_nan=True)
    assert ind.adx_lookback(period) == 2 * period - 1 == first_valid(got)
    assert np.nanmin(got) >= 0 and np.nanmax(got) <= 1


def test_slope(bars: pd.DataFrame) -> None:
    c = bars["close"].to_numpy()
    got = ind.slope(c, 14)
    assert np.array_equal(got, talib.LINEARREG_SLOPE(c, timeperiod=14) / c, equal_nan=True)
    assert ind.slope_lookback(14) == 13 == first_valid(got)


def test_persistence(bars: pd.DataFrame) -> None:
    c = bars["close"].to_numpy()
    got = ind.persistence(c, 20)
    assert ind.persistence_lookback(20) == 20 == first_valid(got)
    assert np.nanmin(got) >= 1 / 20 and np.nanmax(got) <= 1


@pytest.mark.parametrize("period", [7, 14])
def test_rsi(bars: pd.DataFrame, period: int) -> None:
    c = bars["close"].to_numpy()
    got = ind.rsi(c, period)
    assert np.array_equal(got, talib.RSI(c, timeperiod=period) / 100, equal_nan=True)
    assert ind.rsi_lookback(period) == period == first_valid(got)


@pytest.mark.parametrize(("k", "slow", "d"), [(14, 3, 3), (5, 1, 2)])
def test_stoch(bars: pd.DataFrame, k: int, slow: int, d: int) -> None:
    h, lo, c = hlc(bars)
    sk, sd = ind.stoch(h, lo, c, k, slow, d)
    wk, wd = talib.STOCH(
        h, lo, c, fastk_period=k, slowk_period=slow, slowk_matype=0, slowd_period=d,
        slowd_matype=0,
    )  # fmt: skip
    assert np.array_equal(sk, wk / 100, equal_nan=True)
    assert np.array_equal(sd, wd / 100, equal_nan=True)
    lb = ind.stoch_lookback(k, slow, d)
    assert lb == (k - 1) + (slow - 1) + (d - 1) == first_valid(sk) == first_valid(sd)


def test_bbands(bars: pd.DataFrame) -> None:
    c = bars["close"].to_numpy()
    width, pos = ind.bbands(c, 20, 2.0)
    up, mid, low = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)
    assert np.array_equal(width, (up - low) / mid, equal_nan=True)
    assert np.array_equal(pos, (c - low) / (up - low), equal_nan=True)
    assert ind.bbands_lookback(20, 2.0) == 19 == first_valid(width) == first_valid(pos)


def test_bbands_zero_width_gives_half() -> None:
    c = np.concatenate([np.full(30, 10.0), 11 + np.arange(10.0)])
    width, pos = ind.bbands(c, 20, 2.0)
    assert np.isnan(pos[:19]).all()
    assert (pos[19:30] == 0.5).all() and (width[19:30] == 0).all()
    assert (pos[30:] > 0.5).all()


@pytest.mark.parametrize("lag", [1, 5, 20])
def test_log_return(bars: pd.DataFrame, lag: int) -> None:
    c = bars["close"].to_numpy()
    got = ind.log_return(c, lag)
    want = np.log(bars["close"] / bars["close"].shift(lag)).to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert ind.log_return_lookback(lag) == lag == first_valid(got)
    assert np.isnan(ind.log_return(c[:3], 5)).all()


def test_realised_vol(bars: pd.DataFrame) -> None:
    c = bars["close"].to_numpy()
    got = ind.realised_vol(c, 20)
    r = np.diff(np.log(c))
    want = np.array([np.std(r[t - 20 : t], ddof=1) for t in range(20, len(r) + 1)])
    np.testing.assert_allclose(got[20:], want, rtol=1e-9)
    assert ind.realised_vol_lookback(20) == 20 == first_valid(got)


def test_log_range(bars: pd.DataFrame) -> None:
    h, lo, _ = hlc(bars)
    got = ind.log_range(h, lo)
    np.testing.assert_allclose(got, np.log(h / lo), rtol=1e-15)
    assert ind.log_range_lookback() == 0 and (got >= 0).all()


def test_lookbacks_match_where_outputs_start(bars: pd.DataFrame) -> None:
    cfg = FeatureConfig(adx_period=10, rsi_period=9, bb_period=15, vol_window=12)
    lbs = ind.lookbacks(cfg)
    assert lbs["adx_10"] == 19 and lbs["rsi_9"] == 9 and lbs["bb_width_15"] == 14
    assert ind.lookback(cfg) == max(lbs.values()) == 20  # persistence_20 / ret_20
    assert ind.lookback(FeatureConfig()) == 27  # ADX(14)
