"""Backtest performance metrics, computed vectorised from per-step returns and positions.

Convention: ``returns[i]`` is the *net* simple return of step ``i`` (fill after decision ``i`` to
fill after decision ``i + 1``, costs subtracted); ``positions[i]`` is the notional held during
step ``i``: a side in ``{-1, 0, 1}``, or a fraction of equity with sizing (docs/sizing.md). Equity is ``cumprod(1 + returns)`` from 1 before step 0. Every metric is a finite
Python number (JSON-safe); see :func:`compute_metrics` for the degenerate cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regime_trader.regimes import REGIME_NAMES
from regime_trader.utils.dates import format_stamp

METRIC_KEYS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "num_trades",
    "exposure",
    "turnover",
)

ANNUALISED_KEYS: tuple[str, ...] = ("cagr", "sharpe", "sortino", "calmar", "turnover")
"""Metrics scaled to a year; flagged when the period is shorter than one (see period_summary)."""

_EPS = 1e-12  # a standard/downside deviation at or below this counts as zero
_SECONDS_PER_YEAR = 365.25 * 86_400.0


def _finite(x: float) -> float:
    """Map NaN to 0.0 and +-inf to +-largest finite float, returning a Python float."""
    big = float(np.finfo(np.float64).max)
    return float(np.nan_to_num(np.float64(x), nan=0.0, posinf=big, neginf=-big))


def _as_1d(name: str, a: np.ndarray | pd.Series | list[float]) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} contains NaN or infinite values at index "
            f"{int(np.flatnonzero(~np.isfinite(arr))[0])}"
        )
    return arr


def _aligned(returns: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = _as_1d("returns", returns)
    p = _as_1d("positions", positions)
    if r.shape != p.shape:
        raise ValueError(
            f"returns and positions must have the same length, got {r.size} and {p.size}"
        )
    return r, p


def bars_per_year(index: pd.DatetimeIndex) -> float:
    """Empirical number of bars per year of a time index.

    Computed as ``(len(index) - 1) / span_in_years`` with years of 365.25 days, so it reflects
    gaps (weekends, holidays): about 252-261 for daily equity bars, about 6,260 for 24/5 FX hours
    and 525,960 for 24/7 minutes.

    Args:
        index: Monotonic timestamps of the bars.

    Returns:
        Bars per year as a float.

    Raises:
        ValueError: If the index has fewer than 2 bars or spans no time.
    """
    if len(index) < 2:
        raise ValueError(f"bars_per_year needs at least 2 timestamps, got {len(index)}")
    span = (pd.Timestamp(index[-1]) - pd.Timestamp(index[0])).total_seconds()
    if not span > 0:
        raise ValueError(
            f"bars_per_year needs an increasing index; first {index[0]} and last {index[-1]} "
            "timestamps span no time"
        )
    return float((len(index) - 1) / (span / _SECONDS_PER_YEAR))


def equity_curve(returns: np.ndarray) -> np.ndarray:
    """Equity after each step, ``cumprod(1 + returns)`` starting from 1 before step 0.

    Ruin is absorbing: once equity reaches 0 or below (a return <= -1) it stays at 0.

    Args:
        returns: Net simple returns per step.

    Returns:
        Equity array of the same length as ``returns``.
    """
    eq = np.cumprod(1.0 + _as_1d("returns", returns))
    ruined = np.maximum.accumulate(eq <= 0.0)
    eq[ruined] = 0.0
    return eq


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak, as positive fractions ``1 - equity / running_peak``.

    Args:
        equity: Equity values (the first value is the first peak; prepend the starting
            equity to count it as a peak).

    Returns:
        Array of the same length, in ``[0, 1]`` for non-negative equity; 0 where the
        running peak is not positive.
    """
    eq = np.asarray(equity, dtype=np.float64)
    if eq.size == 0:
        return eq.copy()
    peak = np.maximum.accumulate(eq)
    ratio = np.divide(eq, peak, out=np.ones_like(eq), where=peak > 0)
    return np.maximum(1.0 - ratio, 0.0)


def _trades(returns: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, ...]:
    """Starts, inclusive ends, sides (-1, 1) and compounded returns of the trades.

    Trades are the maximal runs of constant non-zero *sign* of the position (run-length
    encoding of the side), so resizing a held side (0.5 -> 0.75 long) stays one trade.
    """
    n = positions.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    sides = np.sign(positions)
    starts = np.flatnonzero(np.r_[True, sides[1:] != sides[:-1]])
    ends = np.r_[starts[1:] - 1, n - 1]
    values = sides[starts]
    run_returns = np.multiply.reduceat(1.0 + returns, starts) - 1.0
    keep = values != 0
    return starts[keep], ends[keep], values[keep], run_returns[keep]


def compute_metrics(
    returns: np.ndarray,
    positions: np.ndarray,
    *,
    bars_per_year: float,
    prev_position: float = 0.0,
) -> dict[str, float]:
    """Performance metrics of one strategy (risk-free rate 0).

    Definitions (``r`` = returns, ``n`` = number of steps, ``bpy`` = bars per year):

    * ``total_return`` = ``prod(1 + r) - 1`` (-1 after ruin, see :func:`equity_curve`).
    * ``cagr`` = ``(1 + total_return) ** (bpy / n) - 1``; -1 after a total loss.
    * ``sharpe`` = ``mean(r) / std(r, ddof=1) * sqrt(bpy)``; 0 when the std is ~0 or n < 2.
    * ``sortino`` = ``mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(bpy)``; 0 with no downside.
    * ``max_drawdown`` = max of ``1 - equity / running_peak`` with the starting equity 1 counted
      as a peak; a positive fraction in ``[0, 1]``.
    * ``calmar`` = ``cagr / max_drawdown``; 0 when there is no drawdown.
    * ``num_trades``: trades are maximal runs of constant non-zero position sign (a flip from
      +1 to -1 ends one trade and starts another, a resize 0.5 -> 0.75 does not; a trade still
      open at the end counts).
    * ``win_rate`` = fraction of trades whose compounded return ``prod(1 + r) - 1`` over their
      steps is > 0; 0 with no trades.
    * ``exposure`` = fraction of steps with a non-zero position (notional).
    * ``turnover`` = ``sum(|diff([prev_position, *positions])|) / n * bpy``: annualised traded
      notional (a round trip 0 -> 1 -> 0 adds 2; a flip +1 -> -1 adds 2; a resize 0.5 -> 0.75
      adds 0.25).

    With no steps every metric is 0. Values that would be NaN become 0 and overflows become the
    largest finite float, so the result is always JSON-safe.

    Args:
        returns: Net simple returns per step, shape ``(n,)``.
        positions: Position held during each step, shape ``(n,)``.
        bars_per_year: Bars per year used to annualise (see :func:`bars_per_year`).
        prev_position: Position held before step 0 (for turnover).

    Returns:
        Dict with exactly :data:`METRIC_KEYS`, in that order; ``num_trades`` is an int, the
        others are floats.

    Raises:
        ValueError: On misaligned or non-finite inputs or a non-positive ``bars_per_year``.
    """
    r, p = _aligned(returns, positions)
    bpy = float(bars_per_year)
    if not (np.isfinite(bpy) and bpy > 0):
        raise ValueError(f"bars_per_year must be a positive finite number, got {bars_per_year}")
    n = r.size
    if n == 0:
        return {k: (0 if k == "num_trades" else 0.0) for k in METRIC_KEYS}

    equity = equity_curve(r)
    growth = float(equity[-1])
    total_return = growth - 1.0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        cagr = -1.0 if growth <= 0.0 else float(np.expm1(np.log(growth) * bpy / n))

        mean = float(np.mean(r))
        std = float(np.std(r, ddof=1)) if n > 1 else 0.0
        sharpe = mean / std * np.sqrt(bpy) if std > _EPS else 0.0
        downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
        sortino = mean / downside * np.sqrt(bpy) if downside > _EPS else 0.0

        max_dd = float(np.max(drawdown(np.r_[1.0, equity])))
        calmar = _finite(cagr) / max_dd if max_dd > 0.0 else 0.0

    _, _, _, trade_returns = _trades(r, p)
    num_trades = int(trade_returns.size)
    win_rate = float(np.mean(trade_returns > 0.0)) if num_trades else 0.0
    exposure = float(np.mean(p != 0.0))
    turnover = float(np.sum(np.abs(np.diff(p, prepend=float(prev_position))))) / n * bpy

    values = (total_return, cagr, sharpe, sortino, max_dd, calmar, win_rate, 0, exposure, turnover)
    out: dict[str, float] = {k: _finite(v) for k, v in zip(METRIC_KEYS, values, strict=True)}
    out["num_trades"] = num_trades
    return out


TRADE_COLUMNS: tuple[str, ...] = (
    "entry_decision_time",
    "entry_time",
    "exit_decision_time",
    "exit_time",
    "side",
    "bars",
    "return",
    "entry_price",
    "exit_price",
)
"""Columns of `trade_table` (``trades.csv``), in order."""


def trade_table(
    index: pd.DatetimeIndex,
    returns: np.ndarray,
    positions: np.ndarray,
    *,
    fill_prices: np.ndarray | None = None,
    fill_times: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """One row per trade (maximal run of constant non-zero position sign).

    A trade is decided at the close of one bar and filled at the next fill (the next open by
    default); it is closed by the decision of the first step that no longer holds its side,
    filled the same way. Times and prices are those of the fills.

    Args:
        index: Decision timestamp of each step, length ``n``.
        returns: Net simple returns per step, length ``n``.
        positions: Position held during each step, length ``n``.
        fill_prices: Optional ``fill_prices[i]`` = price the fill after decision ``i`` executed
            at, length ``n``.
        fill_times: Optional ``fill_times[i]`` = when that fill executed, length ``n`` (or
            more; extra values are ignored). Without it the fill times are the decision
            times (exact for ``env.fill: close``).

    Returns:
        DataFrame with :data:`TRADE_COLUMNS`: ``entry_decision_time`` (bar whose close
        decided the entry), ``entry_time`` (its fill), ``exit_decision_time`` and
        ``exit_time`` (the decision that ended the trade and its fill; NaT for a trade still
        open at the end), ``side`` (``"long"``/``"short"``), ``bars`` (steps held),
        ``return`` (compounded net return over the trade's steps, costs included),
        ``entry_price`` and ``exit_price`` (the fill prices; NaN without ``fill_prices``, and
        the exit's for a trade still open).

    Raises:
        ValueError: If the inputs' lengths differ or values are non-finite.
    """
    r, p = _aligned(returns, positions)
    idx = pd.DatetimeIndex(index)
    if len(idx) != r.size:
        raise ValueError(f"index has {len(idx)} timestamps but returns has {r.size} steps")
    fills = idx if fill_times is None else pd.DatetimeIndex(fill_times)
    if len(fills) < r.size:
        raise ValueError(f"fill_times has {len(fills)} timestamps, expected {r.size}")
    starts, ends, values, trade_returns = _trades(r, p)
    after = ends + 1  # the step whose decision closed the trade
    closed = after < r.size
    shut = np.where(closed, after, 0)
    entry_price = np.full(starts.size, np.nan)
    exit_price = np.full(starts.size, np.nan)
    if fill_prices is not None:
        prices = np.asarray(fill_prices, dtype=np.float64)
        if prices.shape != r.shape:
            raise ValueError(f"fill_prices has length {prices.size}, expected {r.size}")
        entry_price = prices[starts]
        exit_price = np.where(closed, prices[shut], np.nan)
    return pd.DataFrame(
        {
            "entry_decision_time": idx[starts],
            "entry_time": fills[starts],
            "exit_decision_time": pd.Series(idx[shut]).where(closed),  # NaT while open
            "exit_time": pd.Series(fills[shut]).where(closed),
            "side": np.where(values > 0, "long", "short").astype(object),
            "bars": (ends - starts + 1).astype(np.int64),
            "return": trade_returns,
            "entry_price": entry_price,
            "exit_price": exit_price,
        }
    )[list(TRADE_COLUMNS)]


def per_regime_returns(returns: np.ndarray, regimes: np.ndarray) -> dict[str, float]:
    """Compounded strategy return over the steps spent in each regime.

    Args:
        returns: Net simple returns per step, length ``n``.
        regimes: Integer regime code per step (0 uptrend, 1 downtrend, 2 plateau,
            3 oscillating); any other code (e.g. -1, unknown) is ignored.

    Returns:
        ``{"uptrend": ..., "downtrend": ..., "plateau": ..., "oscillating": ...}``, each
        ``prod(1 + r) - 1`` over that regime's steps (0.0 for a regime never visited).

    Raises:
        ValueError: If the lengths differ or returns are non-finite.
    """
    r = _as_1d("returns", returns)
    codes = np.asarray(regimes)
    if codes.shape != r.shape:
        raise ValueError(f"regimes has shape {codes.shape}, expected {r.shape}")
    codes = codes.astype(np.int64)
    return {
        name: _finite(np.prod(1.0 + r[codes == code]) - 1.0)
        for code, name in enumerate(REGIME_NAMES)
    }


def describe_years(years: float) -> str:
    """A period length in words: ``"2.5 years"``, ``"2.0 months"``, ``"12 days"``."""
    if years >= 1.0:
        return f"{years:.1f} years"
    if years * 12 >= 1.0:
        return f"{years * 12:.1f} months"
    return f"{years * 365.25:.0f} days"


def period_summary(index: pd.DatetimeIndex, *, bars_per_year: float) -> dict[str, object]:
    """The exact period of a backtest and whether its annualised figures need a warning.

    Args:
        index: The decision bars of the backtest (each fills at the next bar, see the module
            convention), in order.
        bars_per_year: Bars per year used to annualise (see :func:`bars_per_year`).

    Returns:
        ``{"start", "end"}`` (first and last decision bar, ``YYYY-MM-DD`` or
        ``YYYY-MM-DD HH:MM``), ``"bars"`` (steps), ``"years"`` (``bars / bars_per_year``),
        ``"short"`` (True when under one year: CAGR, Sharpe, Sortino, Calmar and turnover
        are then extrapolated from a short period) and ``"note"`` (the warning, or None).
    """
    n = len(index)
    years = n / float(bars_per_year) if bars_per_year > 0 else 0.0
    short = years < 1.0
    note = None
    if short:
        note = (
            f"annualised from {describe_years(years)} ({n} bars): CAGR, Sharpe, Sortino, "
            "Calmar and turnover/yr extrapolate a period shorter than a year"
        )
    return {
        "start": format_stamp(index[0]) if n else None,
        "end": format_stamp(index[-1]) if n else None,
        "bars": n,
        "years": _finite(years),
        "short": short,
        "note": note,
    }


MIN_MOVE = 0.01
"""Capture and avoidance need the benchmark to move at least 1% (a ratio over a near-zero
move says nothing)."""


def capture_ratio(strategy_return: float, bench_return: float) -> float:
    """Uptrend capture from compounded returns over the same bars: strategy / benchmark;
    NaN unless the benchmark gained at least `MIN_MOVE`."""
    return strategy_return / bench_return if bench_return >= MIN_MOVE else float("nan")


def avoidance_ratio(strategy_return: float, bench_return: float) -> float:
    """Downtrend avoidance from compounded returns: 1 - strategy loss / benchmark loss; NaN
    unless the benchmark lost at least `MIN_MOVE`."""
    if not bench_return <= -MIN_MOVE:
        return float("nan")
    return 1.0 - max(-strategy_return, 0.0) / -bench_return
