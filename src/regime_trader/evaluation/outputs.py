"""The CSV files of a backtest folder, readable without the code.

``equity.csv`` (`equity_frame`): one row per decision bar plus an end row. Every strategy
starts at 1.0 on the first row: a row's equity is marked at the fill of that row's decision
(``fill_time``), before that decision trades, so the first row is the starting capital and
the end row is the final equity. ``position`` is the notional held from that fill to the
next; ``regime`` is the causal rule label of the decision bar, by name. ``trades.csv``
(`metrics.trade_table`) gives each trade's decision and fill times and its fill prices.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from regime_trader.policy.backtest import BacktestResult
from regime_trader.regimes import REGIME_NAMES

__all__ = ["REGIME_LEGEND", "equity_frame", "regime_names"]

UNKNOWN = "unknown"
REGIME_LEGEND: dict[str, str] = {
    "uptrend": "rising trend (rule label 0)",
    "downtrend": "falling trend (1)",
    "plateau": "flat, quiet prices (2)",
    "oscillating": "swings without a trend (3)",
    UNKNOWN: "not labelled yet: too few bars behind it (-1)",
}
"""What each regime name means, with the integer code the library uses internally."""


def regime_names(codes: np.ndarray | pd.Series) -> np.ndarray:
    """Regime names of integer codes (0 uptrend ... 3 oscillating; others ``"unknown"``);
    names pass through."""
    values = np.asarray(codes)
    if values.dtype.kind in "OUS":
        return values.astype(object)
    names = np.asarray([*REGIME_NAMES, UNKNOWN], dtype=object)
    ints = np.nan_to_num(values.astype(np.float64), nan=-1.0).astype(np.int64)
    return names[np.where((ints >= 0) & (ints < len(REGIME_NAMES)), ints, len(REGIME_NAMES))]


def equity_frame(
    results: Mapping[str, BacktestResult],
    regimes: np.ndarray,
    decision_times: pd.DatetimeIndex | None,
    fill_times: pd.DatetimeIndex | None,
    featured: str = "strategy",
) -> pd.DataFrame:
    """The ``equity.csv`` frame: equity of every strategy, position and regime per bar.

    Args:
        results: Backtests over the same ``n`` decision bars (``featured`` first).
        regimes: Rule label code of each decision bar, ``[n]``.
        decision_times: Bars ``first..last+1``, ``[n + 1]`` (the last one only ends the last
            step); None: the decision timestamps, with the end row stamped one step on.
        fill_times: When each of those bars' decisions fills, ``[n + 1]`` (None: omitted).
        featured: The strategy whose ``position`` is written.

    Returns:
        Frame indexed by decision time (``timestamp``) with ``fill_time`` (when given), one
        column per strategy (1.0 on the first row, ``1 + total return`` on the last),
        ``position`` and ``regime`` (blank on the end row, which holds no step).
    """
    res = results[featured]
    n = len(res.returns)
    if decision_times is None:
        step = res.index[-1] - res.index[-2] if n > 1 else pd.Timedelta(days=1)
        times = pd.DatetimeIndex([*res.index, res.index[-1] + step])
    else:
        times = pd.DatetimeIndex(decision_times)
    cols: dict[str, object] = {}
    if fill_times is not None:
        cols["fill_time"] = pd.DatetimeIndex(fill_times)[: n + 1]
    for name, r in results.items():
        cols[name] = np.r_[1.0, np.cumprod(1.0 + r.returns)]
    cols["position"] = np.r_[res.positions, np.nan]
    cols["regime"] = np.r_[regime_names(regimes), None]
    return pd.DataFrame(cols, index=times[: n + 1].rename("timestamp"))
