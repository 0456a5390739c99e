"""Trend features: persistence of the bar-to-bar direction and the regression slope.

Both are causal: the value at row t uses rows <= t only.
"""

from __future__ import annotations

import numpy as np
import talib

_SIGNS = (-1.0, 0.0, 1.0)


def _as_float64(x: np.ndarray) -> np.ndarray:
    """Return `x` as a contiguous 1-D float64 array (TA-Lib needs exactly that)."""
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))


def trend_persistence(close: np.ndarray, window: int) -> np.ndarray:
    """Count, over the last `window` bar-to-bar moves, those in the latest move's direction.

    Vectorised equivalent of the plan's sketch::

        sign = np.sign(close.diff())
        sign.rolling(window).apply(lambda x: np.sum(x == x.iloc[-1]))

    For each sign value s in {-1, 0, +1} a cumulative count of bars with that sign gives the
    count inside any window as a difference of two prefix sums; the current bar's sign picks
    which count applies. Rows whose window holds a NaN move (the first `window` rows, or
    around NaN prices) are NaN, exactly where pandas gives NaN.

    Args:
        close: Close prices, shape [T].
        window: Number of moves (diffs) in the window, >= 1.

    Returns:
        float64 [T] with counts in 1..window, NaN during warm-up.

    Raises:
        ValueError: If `window` < 1.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    c = _as_float64(close)
    n = c.size
    out = np.full(n, np.nan)
    if n <= window:
        return out
    sign = np.empty(n)
    sign[0] = np.nan
    sign[1:] = np.sign(np.diff(c))
    # Indicators [4, T]: one row per sign value, last row marks NaN moves.
    marks = np.vstack([sign == s for s in _SIGNS] + [np.isnan(sign)]).astype(np.int64)
    prefix = np.zeros((marks.shape[0], n + 1), dtype=np.int64)
    np.cumsum(marks, axis=1, out=prefix[:, 1:])
    # counts[:, j] = number of marks in rows (j - window + 1 .. j) for j = window - 1 .. n - 1
    counts = prefix[:, window:] - prefix[:, :-window]
    rows = np.arange(window - 1, n)
    cur = sign[rows]
    valid = counts[3] == 0
    pick = np.where(valid, np.nan_to_num(cur, nan=0.0) + 1.0, 0.0).astype(np.int64)
    chosen = counts[pick, np.arange(rows.size)].astype(np.float64)
    out[rows] = np.where(valid, chosen, np.nan)
    return out


def linreg_slope_frac(close: np.ndarray, period: int) -> np.ndarray:
    """Linear-regression slope of the close over `period` bars, as a fraction of price.

    ``talib.LINEARREG_SLOPE(close, period) / close``: the fitted change per bar divided by the
    current close, so an index at 3000 and a stock at 10 on the same relative path agree.

    Args:
        close: Close prices, shape [T].
        period: Regression window in bars, >= 2.

    Returns:
        float64 [T], NaN for the first `period - 1` rows.
    """
    c = _as_float64(close)
    slope = talib.LINEARREG_SLOPE(c, timeperiod=period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return slope / c
