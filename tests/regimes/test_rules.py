"""Rule-based regimes: constants, warm-up, scale-freeness, the rule itself and SPX shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from regime_trader.config import RegimeConfig
from regime_trader.regimes import (
    DOWNTREND,
    OSCILLATING,
    PLATEAU,
    REGIME_NAMES,
    SHORT_HORIZON,
    UNKNOWN,
    UPTREND,
    classify_regimes,
    mean_run_length,
    regime_inputs,
    regime_lookback,
    regime_shares,
)

DATA = Path("/work/shared/data/daily")
SPX = DATA / "SPX_1d_yahoo_1999-2018.csv.gz"


def make_ohlcv(
    seed: int = 0, n: int = 800, drift: float = 0.0, sigma: float = 0.01
) -> pd.DataFrame:
    """Geometric random walk with consistent OHLC (high >= max(o, c), low <= min(o, c))."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(drift, sigma, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, sigma / 5, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, sigma / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, sigma / 2, n)))
    idx = pd.date_range("2001-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": np.nan}, index=idx
    )


def load(path: Path) -> pd.DataFrame:
    if not path.exists():
        pytest.skip(f"{path} not present")
    return pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp")


def test_constants() -> None:
    assert (UPTREND, DOWNTREND, PLATEAU, OSCILLATING, UNKNOWN) == (0, 1, 2, 3, -1)
    assert REGIME_NAMES == ("uptrend", "downtrend", "plateau", "oscillating")


def test_labels_dtype_and_warmup() -> None:
    cfg = RegimeConfig()
    df = make_ohlcv()
    labels = classify_regimes(df, cfg)
    lb = regime_lookback(cfg)
    assert lb == cfg.window + cfg.vol_history - 1
    assert labels.dtype == np.int8 and labels.shape == (len(df),)
    assert (labels[:lb] == UNKNOWN).all()
    assert (labels[lb:] >= 0).all()  # with min_vol_ratio=0 every later bar gets a regime
    inputs = regime_inputs(df, cfg)
    assert list(inputs.columns) == ["trend_score", "vol_ratio"]
    assert inputs.iloc[:lb].isna().any(axis=1).all() and not inputs.iloc[lb:].isna().any().any()


def test_rule_matches_plan_np_select() -> None:
    cfg = RegimeConfig(window=10, vol_history=60, trend_threshold=0.2, vol_threshold=1.1,
                       min_vol_ratio=0.8, min_duration=1)  # fmt: skip
    df = make_ohlcv(5, 600)
    c = df["close"]
    vol = np.log(c).diff().rolling(cfg.window).std()
    slope = talib.LINEARREG_SLOPE(c.to_numpy(), timeperiod=cfg.window) / c
    trend = slope / vol
    ratio = vol / vol.rolling(cfg.vol_history).median()
    t = cfg.trend_threshold
    conditions = [
        (trend > t) & (ratio > cfg.min_vol_ratio),
        (trend < -t) & (ratio > cfg.min_vol_ratio),
        (trend.abs() <= t) & (ratio < cfg.vol_threshold),
        (trend.abs() <= t) & (ratio >= cfg.vol_threshold),
    ]
    want = np.select(conditions, [0, 1, 2, 3], default=-1)
    got = classify_regimes(df, cfg)
    assert np.array_equal(got, want)
    assert set(np.unique(got)) == {-1, 0, 1, 2, 3}  # min_vol_ratio leaves some trends unknown


def test_drift_gives_trend_labels() -> None:
    cfg = RegimeConfig()
    lb = regime_lookback(cfg)
    up = classify_regimes(make_ohlcv(1, 800, drift=0.004), cfg)[lb:]
    down = classify_regimes(make_ohlcv(1, 800, drift=-0.004), cfg)[lb:]
    assert (up == UPTREND).mean() > 0.8
    assert (down == DOWNTREND).mean() > 0.8


def test_quiet_and_wild_flat_markets() -> None:
    cfg = RegimeConfig(window=20, vol_history=100)
    quiet = make_ohlcv(2, 600, sigma=0.01)
    wild = make_ohlcv(2, 600, sigma=0.03)
    # Same driftless path shape, volatility tripled for the last 100 bars.
    df = pd.concat([quiet.iloc[:500], wild.iloc[500:] * (quiet["close"].iloc[499] / 100)])
    labels = classify_regimes(df, cfg)
    assert (labels[520:600] != PLATEAU).mean() > 0.8
    flat = quiet.copy()
    flat[["open", "high", "low", "close"]] = 50.0
    assert (classify_regimes(flat, cfg)[regime_lookback(cfg) :] == PLATEAU).all()


def test_labels_are_scale_free_synthetic() -> None:
    df = make_ohlcv(3, 1000)
    big = df.copy()
    big[["open", "high", "low", "close"]] *= 1000.0
    assert np.array_equal(classify_regimes(df), classify_regimes(big))


def test_labels_are_scale_free_spx() -> None:
    df = load(SPX)
    big = df.copy()
    big[["open", "high", "low", "close"]] *= 1000.0
    assert np.array_equal(classify_regimes(df), classify_regimes(big))


def test_regime_shares() -> None:
    labels = np.array([-1, -1, 0, 0, 1, 2, 3, 3, 3, 3], dtype=np.int8)
    assert regime_shares(labels) == {
        "uptrend": 0.25, "downtrend": 0.125, "plateau": 0.125, "oscillating": 0.5,
    }  # fmt: skip
    assert regime_shares(np.full(3, -1)) == dict.fromkeys(REGIME_NAMES, 0.0)
    assert mean_run_length(labels) == pytest.approx(8 / 4)  # runs 00, 1, 2, 3333


def test_spx_shares_in_documented_ranges() -> None:
    """docs/regimes.md records these shares (defaults: half-year window, 5-bar minimum)."""
    labels = classify_regimes(load(SPX), RegimeConfig())
    shares = regime_shares(labels)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["uptrend"] == pytest.approx(0.549, abs=0.005)
    assert shares["downtrend"] == pytest.approx(0.209, abs=0.005)
    assert shares["plateau"] == pytest.approx(0.109, abs=0.005)
    assert shares["oscillating"] == pytest.approx(0.134, abs=0.005)
    assert mean_run_length(labels) > 60  # runs of months, not of days


def test_spx_shares_of_the_short_horizon_preset() -> None:
    """docs/features.md records the former defaults' shares; every regime 12-40%."""
    labels = classify_regimes(load(SPX), SHORT_HORIZON)
    shares = regime_shares(labels)
    for name, share in shares.items():
        assert 0.12 <= share <= 0.40, (name, share)
    assert shares["uptrend"] == pytest.approx(0.347, abs=0.005)
    assert shares["downtrend"] == pytest.approx(0.195, abs=0.005)
    assert shares["plateau"] == pytest.approx(0.216, abs=0.005)
    assert shares["oscillating"] == pytest.approx(0.242, abs=0.005)
    assert 5 < mean_run_length(labels) < 12
