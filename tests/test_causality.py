"""Causality: perturbing the future never changes features or regime labels of the past."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from _causality import perturb_after
from regime_trader.config import FeatureConfig, RegimeConfig
from regime_trader.features import compute_features
from regime_trader.regimes import classify_regimes

N_BARS = 400
SMALL_REGIMES = RegimeConfig(window=10, vol_history=40)


def make_ohlcv(seed: int, n: int = N_BARS) -> pd.DataFrame:
    """Geometric random walk with consistent OHLC (high >= max(o, c), low <= min(o, c))."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.005, n)))
    idx = pd.date_range("2005-01-03", periods=n, freq="B", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": np.nan}, index=idx
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(0, N_BARS - 2),
    factor=st.floats(0.2, 5.0).filter(lambda f: abs(f - 1.0) > 1e-3),
)
def test_future_changes_do_not_reach_the_past(seed: int, t: int, factor: float) -> None:
    df = make_ohlcv(seed)
    moved = perturb_after(df, t, factor, seed)
    assert not np.array_equal(df["close"].to_numpy()[t + 1 :], moved["close"].to_numpy()[t + 1 :])

    cfg = FeatureConfig()
    a = compute_features(df, cfg).to_numpy()[: t + 1]
    b = compute_features(moved, cfg).to_numpy()[: t + 1]
    assert np.array_equal(a, b, equal_nan=True)

    for rcfg in (RegimeConfig(), SMALL_REGIMES):
        la = classify_regimes(df, rcfg)[: t + 1]
        lb = classify_regimes(moved, rcfg)[: t + 1]
        assert np.array_equal(la, lb)


def test_perturbation_does_change_the_future() -> None:
    """Guard against a vacuous property: the future rows do move."""
    df = make_ohlcv(0)
    moved = perturb_after(df, 200, 2.0, 0)
    a = compute_features(df).to_numpy()[201:]
    b = compute_features(moved).to_numpy()[201:]
    assert not np.array_equal(a, b, equal_nan=True)
    assert not np.array_equal(
        classify_regimes(df, SMALL_REGIMES)[201:], classify_regimes(moved, SMALL_REGIMES)[201:]
    )
