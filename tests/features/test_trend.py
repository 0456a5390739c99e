"""Trend persistence and slope-as-fraction-of-price against the plan's pandas/TA-Lib versions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from regime_trader.features.trend import linreg_slope_frac, trend_persistence


def plan_persistence(close: np.ndarray, window: int) -> np.ndarray:
    """The plan's sketch, verbatim apart from positional indexing."""
    direction = np.sign(pd.Series(close).diff())
    return direction.rolling(window).apply(lambda x: np.sum(x == x.iloc[-1]), raw=False).to_numpy()


@pytest.mark.parametrize("window", [1, 2, 5, 20])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_persistence_equals_plan_version_with_zero_diffs(window: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Integer steps in {-1, 0, +1} make zero diffs common.
    close = 100.0 + np.cumsum(rng.integers(-1, 2, size=300)).astype(float)
    got = trend_persistence(close, window)
    want = plan_persistence(close, window)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.isnan(got[:window]).all()
    assert not np.isnan(got[window:]).any()


def test_persistence_equals_plan_version_on_random_walk_with_nans() -> None:
    rng = np.random.default_rng(7)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500))), 1)
    close[[100, 101, 250]] = np.nan
    got = trend_persistence(close, 20)
    assert np.array_equal(got, plan_persistence(close, 20), equal_nan=True)
    assert np.isnan(got[100:122]).all()


def test_persistence_small_example() -> None:
    close = np.array([1.0, 2.0, 3.0, 3.0, 2.0, 3.0, 4.0])
    # diffs: nan, +, +, 0, -, +, +
    got = trend_persistence(close, 3)
    want = np.array([np.nan, np.nan, np.nan, 1.0, 1.0, 1.0, 2.0])
    assert np.array_equal(got, want, equal_nan=True)


def test_persistence_short_input_all_nan_and_bad_window() -> None:
    assert np.isnan(trend_persistence(np.arange(5.0), 5)).all()
    assert trend_persistence(np.array([]), 3).shape == (0,)
    with pytest.raises(ValueError, match="window"):
        trend_persistence(np.arange(5.0), 0)


def test_slope_frac_matches_talib_and_is_scale_free() -> None:
    rng = np.random.default_rng(3)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 200)))
    got = linreg_slope_frac(close, 14)
    want = talib.LINEARREG_SLOPE(close, timeperiod=14) / close
    assert np.array_equal(got, want, equal_nan=True)
    assert np.isnan(got[:13]).all() and not np.isnan(got[13:]).any()
    np.testing.assert_allclose(linreg_slope_frac(close * 1000, 14)[13:], got[13:], rtol=1e-9)


def test_slope_frac_of_exact_line() -> None:
    close = 100.0 + 2.0 * np.arange(30)
    got = linreg_slope_frac(close, 10)
    np.testing.assert_allclose(got[9:], 2.0 / close[9:], rtol=1e-9)
