"""`features.timeframes`: causal coarse-bar columns in the observation (build_features, prepare)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _causality import perturb_after
from _features import SMALL_FEATURES
from regime_trader.config import Config, FeatureConfig
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import build_features, feature_lookback, feature_names
from regime_trader.features.timeframes import multi_timeframe_features, timeframe_warmup
from regime_trader.training import prepare

N_BARS = 700
SMALL = FeatureConfig(**{**SMALL_FEATURES.model_dump(), "timeframes": ("W", "ME")})


def business_days(seed: int, n: int = N_BARS) -> pd.DataFrame:
    """Geometric random walk on business days (weekends missing, as in daily stock data)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.005, n)))
    idx = pd.date_range("2005-01-03", periods=n, freq="B", tz="UTC", name="timestamp")
    data = {"open": open_, "high": high, "low": low, "close": close, "volume": np.nan}
    return pd.DataFrame(data, index=idx)


def test_columns_follow_the_base_and_the_warmup_covers_every_timeframe() -> None:
    df = business_days(0)
    fs = build_features(df, SMALL)
    base = feature_names(SMALL)
    assert fs.names == base + [f"{n}@{tf}" for tf in ("W", "ME") for n in base]
    assert (
        fs.lookback == timeframe_warmup(df.index, SMALL.timeframes, SMALL) > feature_lookback(SMALL)
    )
    assert np.isfinite(fs.values).all()
    full = multi_timeframe_features(df, SMALL.timeframes, SMALL)
    np.testing.assert_array_equal(fs.values, full.iloc[fs.lookback :].to_numpy(np.float32))
    assert full.iloc[fs.lookback - 1].isna().any()  # one row earlier a coarse column is NaN


def test_a_series_too_short_for_the_coarse_warmup_names_the_field() -> None:
    with pytest.raises(DataError, match=r"features.timeframes: 'ME' needs 6 closed 'ME' bars"):
        build_features(business_days(0, 80), SMALL)


def test_config_accepts_a_comma_string_and_names_a_bad_token() -> None:
    cfg = Config.from_dict({"features": {"timeframes": "W, ME"}})
    assert cfg.features.timeframes == ("W", "ME")
    with pytest.raises(ConfigError, match=r"features.timeframes.*'2W' is not supported"):
        Config.from_dict({"features": {"timeframes": ["2W"]}})


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(150, N_BARS - 2),
    factor=st.floats(0.2, 5.0).filter(lambda f: abs(f - 1.0) > 1e-3),
)
def test_future_bars_do_not_reach_past_observation_rows(seed: int, t: int, factor: float) -> None:
    """Perturbing every bar after row t, or cutting the series there, moves no observation
    feature (base or coarse) at rows <= t, nor the warm-up."""
    df = business_days(seed)
    fs = build_features(df, SMALL)
    keep = t + 1 - fs.lookback  # observation rows at input rows <= t
    moved = build_features(perturb_after(df, t, factor, seed), SMALL)
    assert moved.lookback == fs.lookback
    np.testing.assert_array_equal(moved.values[:keep], fs.values[:keep])
    assert not np.array_equal(moved.values[keep:], fs.values[keep:])  # the future did move
    cut = build_features(df.iloc[: t + 1], SMALL)
    assert cut.lookback == fs.lookback
    np.testing.assert_array_equal(cut.values, fs.values[:keep])


def test_prepare_puts_the_columns_in_the_market_and_a_backtest_rebuilds_them(
    config_factory,
) -> None:
    df = business_days(1, 1400)
    cfg = config_factory(env={"window": 10}, features={"timeframes": ["W"]})
    data = prepare(cfg, ohlcv=df)
    assert data.market.n_features == 2 * len(feature_names(cfg.features))
    assert data.market.names[-1] == "range_1@W" and data.scaler.names == list(data.market.names)
    again = prepare(cfg, ohlcv=df, scaler=data.scaler, split=False)  # as backtest_run does
    np.testing.assert_array_equal(again.market.features.numpy(), data.market.features.numpy())
    plain = cfg.override(features={"timeframes": []})
    with pytest.raises(ConfigError, match=r"features: the run's scaler has 26 columns.*adx_14@W"):
        prepare(plain, ohlcv=df, scaler=data.scaler, split=False)
