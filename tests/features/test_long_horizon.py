"""Long-horizon features: off by default, equal to pandas, switchable per group, causal,
warm-up counted in ``feature_lookback``, streamed bar by bar like the batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from _causality import perturb_after
from regime_trader.config import Config, FeatureConfig
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import build_features, compute_features, feature_lookback
from regime_trader.features import feature_names as names_of
from regime_trader.features.streaming import FeaturePipeline
from regime_trader.features.timeframes import multi_timeframe_features, multi_timeframe_names

LONG = FeatureConfig(long_horizon=True)
LONG_NAMES = ["sma_dist_50", "sma_dist_200", "mom_63", "mom_126", "mom_252", "vol_rel_252"]
N = 700


def _bars(ohlcv_factory) -> pd.DataFrame:
    """The shared geometric random walk (tests/conftest.py), N daily UTC bars."""
    return ohlcv_factory(N, seed=5, vol=0.012)


@pytest.fixture()
def bars(ohlcv_factory) -> pd.DataFrame:
    return _bars(ohlcv_factory)


def test_off_by_default_keeps_the_base_columns() -> None:
    base = names_of(FeatureConfig())
    assert len(base) == 13 and not set(base) & set(LONG_NAMES)
    assert feature_lookback(FeatureConfig()) == 27
    assert names_of(LONG) == base + LONG_NAMES
    assert feature_lookback(LONG) == 20 + 252 - 1  # vol_rel_252 sets the warm-up


def test_values_equal_pandas(bars: pd.DataFrame) -> None:
    got = compute_features(bars, LONG)
    close = bars["close"]
    vol = np.log(close).diff().rolling(20).std(ddof=1)
    ref = {
        "sma_dist_50": np.log(close / close.rolling(50).mean()),
        "sma_dist_200": np.log(close / close.rolling(200).mean()),
        "mom_63": np.log(close / close.shift(63)),
        "mom_126": np.log(close / close.shift(126)),
        "mom_252": np.log(close / close.shift(252)),
        "vol_rel_252": vol / vol.rolling(252).mean(),
    }
    for name, series in ref.items():
        np.testing.assert_allclose(got[name].to_numpy(), series.to_numpy(), rtol=1e-10)
    base = compute_features(bars, FeatureConfig())
    pd.testing.assert_frame_equal(got[base.columns], base)


def test_each_column_starts_at_its_lookback_and_feature_lookback_holds(bars) -> None:
    from regime_trader.features.indicators import lookbacks

    raw = compute_features(bars, LONG)
    for name, lb in lookbacks(LONG).items():
        col = raw[name].to_numpy()
        assert np.isnan(col[:lb]).all() and np.isfinite(col[lb:]).all(), name
    fs = build_features(bars, LONG)
    assert fs.lookback == feature_lookback(LONG) and len(fs.values) == N - 271
    assert fs.names == names_of(LONG)


def test_each_group_is_switchable(bars: pd.DataFrame) -> None:
    no_sma = LONG.model_copy(update={"sma_periods": ()})
    assert names_of(no_sma)[-4:] == ["mom_63", "mom_126", "mom_252", "vol_rel_252"]
    no_mom = LONG.model_copy(update={"momentum_lags": ()})
    assert names_of(no_mom)[-3:] == ["sma_dist_50", "sma_dist_200", "vol_rel_252"]
    no_vol = LONG.model_copy(update={"vol_level_window": 0})
    assert "vol_rel_252" not in names_of(no_vol) and feature_lookback(no_vol) == 252
    short = FeatureConfig(long_horizon=True, sma_periods=(10,), momentum_lags=(5,),
                          vol_level_window=30)  # fmt: skip
    assert names_of(short)[-3:] == ["sma_dist_10", "mom_5", "vol_rel_30"]
    assert feature_lookback(short) == 20 + 30 - 1
    assert compute_features(bars, short).shape[1] == 16


def test_config_refuses_bad_periods_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="sma_periods"):
        FeatureConfig(sma_periods=(1, 200))
    with pytest.raises(ValidationError, match="momentum_lags"):
        FeatureConfig(momentum_lags=(63, 63))
    with pytest.raises(ConfigError, match="field 'features.vol_level_window'"):
        Config.from_dict({"features": {"vol_level_window": -1}})


def test_too_short_for_the_long_warm_up_says_how_many(bars: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="at least 272 bars"):
        build_features(bars.iloc[:200], LONG)


@settings(max_examples=15, deadline=None)
@given(t=st.integers(0, N - 2), factor=st.floats(0.3, 3.0).filter(lambda f: abs(f - 1) > 1e-3))
def test_future_changes_do_not_reach_the_past(ohlcv_factory, t: int, factor: float) -> None:
    df = _bars(ohlcv_factory)
    moved = perturb_after(df, t, factor, seed=t)
    a = compute_features(df, LONG).to_numpy()[: t + 1]
    b = compute_features(moved, LONG).to_numpy()[: t + 1]
    np.testing.assert_array_equal(a, b)
    cut = compute_features(df.iloc[: t + 1], LONG).to_numpy()
    np.testing.assert_array_equal(a, cut)


def test_streaming_equals_batch(bars: pd.DataFrame) -> None:
    pipe = FeaturePipeline(LONG)
    assert pipe.history == 253  # the 252-bar momentum needs 253 closes
    rows = [pipe.update({"timestamp": ts, **bar}) for ts, bar in bars.iterrows()]
    stream = pd.DataFrame(rows)
    batch = compute_features(bars, LONG)
    assert list(stream.columns) == list(batch.columns)
    np.testing.assert_array_equal(stream.isna().to_numpy(), batch.isna().to_numpy())
    np.testing.assert_allclose(stream.to_numpy(), batch.to_numpy(), rtol=1e-9, atol=1e-9)


def test_coarse_timeframes_keep_the_base_features_only(bars: pd.DataFrame) -> None:
    cfg = LONG.model_copy(update={"timeframes": ("W",)})
    cols = multi_timeframe_names(("W",), cfg)
    assert cols[:19] == names_of(LONG) and "mom_252@W" not in cols and "rsi_14@W" in cols
    frame = multi_timeframe_features(bars, ("W",), cfg)
    assert list(frame.columns) == cols
    fs = build_features(bars, cfg)
    assert fs.names == cols and fs.lookback >= feature_lookback(LONG)
