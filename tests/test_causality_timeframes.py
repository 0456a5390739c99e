"""Causality of multi-timeframe features: no coarse bar reaches a base row before it closed.

A synthetic minute series with random gaps (missing minutes, a weekend-like closure) is
perturbed after a random row t, or cut off after it; no feature of any timeframe may move at
rows <= t. Small feature periods make every timeframe, 240min included, leave its warm-up
inside the series, so the property is not vacuous.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from _causality import perturb_after
from _features import SMALL_FEATURES
from regime_trader.features.timeframes import multi_timeframe_features

N_BARS = 3000
TIMEFRAMES = "5min,15min,30min,60min,240min"
SMALL = SMALL_FEATURES


def make_minutes(seed: int, n: int = N_BARS) -> pd.DataFrame:
    """Geometric random walk of one-minute bars; ~5% of steps skip 2-30 minutes, one ~2 days."""
    rng = np.random.default_rng(seed)
    steps = np.ones(n, dtype=np.int64)
    gaps = rng.random(n) < 0.05
    steps[gaps] = rng.integers(2, 31, gaps.sum())
    steps[rng.integers(1, n)] = 2 * 24 * 60 + int(rng.integers(0, 60))
    start = pd.Timestamp("2024-01-05 20:00", tz="UTC") + pd.Timedelta(
        int(rng.integers(0, 240)), "min"
    )
    idx = start + pd.to_timedelta(np.cumsum(steps) - 1, unit="min")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.001, n)))
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 2, n)},
        index=pd.DatetimeIndex(idx, name="timestamp"),
    )


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(0, N_BARS - 2),
    factor=st.floats(0.2, 5.0).filter(lambda f: abs(f - 1.0) > 1e-3),
)
def test_future_bars_do_not_reach_past_rows_of_any_timeframe(
    seed: int, t: int, factor: float
) -> None:
    df = make_minutes(seed)
    full = multi_timeframe_features(df, TIMEFRAMES, SMALL).to_numpy()[: t + 1]
    moved = multi_timeframe_features(perturb_after(df, t, factor, seed), TIMEFRAMES, SMALL)
    np.testing.assert_array_equal(moved.to_numpy()[: t + 1], full)
    # Stronger: the series cut after row t (as seen live at t) gives the same rows.
    cut = multi_timeframe_features(df.iloc[: t + 1], TIMEFRAMES, SMALL).to_numpy()
    np.testing.assert_array_equal(cut, full)


def test_property_is_not_vacuous() -> None:
    """Every timeframe has values, and perturbing the future does move later rows."""
    df = make_minutes(0)
    out = multi_timeframe_features(df, TIMEFRAMES, SMALL)
    for tf in TIMEFRAMES.split(","):
        assert out[f"rsi_3@{tf}"].notna().sum() > 0, tf
    t = N_BARS // 2
    moved = multi_timeframe_features(perturb_after(df, t, 2.0, 0), TIMEFRAMES, SMALL)
    for tf in TIMEFRAMES.split(","):
        col = f"ret_1@{tf}"
        assert not np.array_equal(out[col].to_numpy()[t + 1 :], moved[col].to_numpy()[t + 1 :])
