"""Pure execution maths shared by every engine (Gymnasium env, batched env, backtest).

Each function works on NumPy arrays and on torch tensors alike, so both engines compute
the same numbers with the same code.

Timing (ARCHITECTURE.md "Execution"): the decision taken at the close of bar t fills at
``fill[t]`` (the open of t+1 by default, or the close of t), paying ``cost_bps`` on the
traded notional. The step return of decision t runs from ``fill[t]`` to ``fill[t+1]``.

Sizing (docs/sizing.md): the agent picks a *side* (-1, 0, 1); the *notional* held over the
step of decision t is ``side * size[t]``, with ``size[t]`` a causal per-bar multiplier
(`MarketData.size`, all ones with ``env.sizing="full"``). Costs are paid on the traded
notional, so rebalancing a held side to a new size costs too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

HOLD, SELL, BUY = 0, 1, 2
N_ACTIONS = 3


def _where(cond: Any, a: Any, b: Any) -> Any:
    """``where`` for NumPy and torch alike (float64 result)."""
    if isinstance(cond, torch.Tensor):
        a = torch.as_tensor(a, dtype=torch.float64, device=cond.device)
        b = torch.as_tensor(b, dtype=torch.float64, device=cond.device)
        return torch.where(cond, a, b)
    return np.where(cond, a, b).astype(np.float64)


def _abs(x: Any) -> Any:
    return x.abs() if isinstance(x, torch.Tensor) else np.abs(x)


def positions_for(allow_short: bool) -> tuple[float, ...]:
    """All positions an agent can hold, in a fixed order (used to enumerate states)."""
    return (-1.0, 0.0, 1.0) if allow_short else (0.0, 1.0)


def target_position(position: Any, action: Any, allow_short: bool) -> Any:
    """Position after ``action``: hold keeps it, buy goes long, sell goes flat (short if allowed)."""
    sell_to = -1.0 if allow_short else 0.0
    return _where(action == BUY, 1.0, _where(action == SELL, sell_to, position))


def trade_cost(old_position: Any, new_position: Any, cost_bps: float) -> Any:
    """Cost of moving between notionals (positions), as a fraction of equity."""
    return _abs(new_position - old_position) * (cost_bps * 1e-4)


def step_return(new_position: Any, growth: Any, cost: Any) -> Any:
    """Net simple return of one step: pay the cost at the fill, then hold the notional
    ``new_position``.

    ``growth`` is ``fill[t+1] / fill[t]``.
    """
    return (1.0 - cost) * (1.0 + new_position * (growth - 1.0)) - 1.0


def sized_step(
    side: Any, new_side: Any, prev_size: Any, size: Any, growth: Any, cost_bps: float
) -> tuple[Any, Any, Any]:
    """One step of decision t in both engines: ``(net return, cost, notional held)``.

    The notional before the fill is ``side * prev_size`` (``size[t-1]``: the side was held
    over the previous bar's step), after it ``new_side * size`` (``size[t]``). With sizes of
    1 this is exactly `trade_cost` and `step_return` of the sides.
    """
    held = new_side * size
    cost = trade_cost(side * prev_size, held, cost_bps)
    return step_return(held, growth, cost), cost, held


_MIN_VOL = 1e-8  # annualised; the vol floor keeps a flat stretch of prices from dividing by 0


def sizes_vol_target(
    close: np.ndarray,
    window: int,
    target_vol: float,
    bars_per_year: float,
    max_leverage: float = 1.0,
) -> np.ndarray:
    """Volatility-targeting sizes ``[T]``: ``min(max_leverage, target_vol / vol[t])``.

    ``vol[t]`` is the sample standard deviation (ddof 1) of the last ``window`` log
    close-to-close returns ending at bar t, times ``sqrt(bars_per_year)``, floored at 1e-8:
    only closes ``<= t`` enter ``size[t]`` (causal; rolling sums as prefix differences, no
    loop over bars). Bars without ``window`` returns behind them (the first ``window``) get
    ``min(1, max_leverage)``; never a later value, which would look ahead.

    Examples:
        >>> close = 100 * np.exp(np.cumsum(np.tile([0.01, -0.01], 20)))
        >>> sizes = sizes_vol_target(close, 5, 0.05, 252.0)
        >>> bool(np.all(sizes[:5] == 1.0)), round(float(sizes[-1]), 3)
        (True, 0.288)
    """
    close = np.asarray(close, dtype=np.float64)
    if window < 2:
        raise ValueError(f"vol_window must be >= 2 returns, got {window}")
    if not (target_vol > 0 and bars_per_year > 0 and max_leverage > 0):
        raise ValueError("target_vol, bars_per_year and max_leverage must be > 0")
    out = np.full(len(close), min(1.0, float(max_leverage)))
    if len(close) <= window:
        return out
    r = np.diff(np.log(close))  # r[i] is the return into bar i + 1
    s1 = np.concatenate([[0.0], np.cumsum(r)])
    s2 = np.concatenate([[0.0], np.cumsum(r * r)])
    tot1 = s1[window:] - s1[:-window]  # sums over the window of returns ending at bar t
    tot2 = s2[window:] - s2[:-window]
    var = np.maximum(tot2 - tot1 * tot1 / window, 0.0) / (window - 1)
    vol = np.maximum(np.sqrt(var * bars_per_year), _MIN_VOL)
    out[window:] = np.minimum(max_leverage, target_vol / vol)
    return out


def fill_prices(open_: np.ndarray, close: np.ndarray, fill: str = "next_open") -> np.ndarray:
    """``fill[t]``: the price at which the decision at bar t executes (NaN where none)."""
    if fill == "close":
        return np.asarray(close, dtype=np.float64).copy()
    if fill != "next_open":
        raise ValueError(f"fill must be 'next_open' or 'close', got {fill!r}")
    out = np.full(len(open_), np.nan)
    out[:-1] = open_[1:]
    return out


def growth_factors(fill: np.ndarray) -> np.ndarray:
    """``growth[t] = fill[t+1] / fill[t]``; NaN where a decision has no complete step."""
    out = np.full(len(fill), np.nan)
    out[:-1] = fill[1:] / fill[:-1]
    return out


def last_decision(n_bars: int, fill: str = "next_open") -> int:
    """Index of the last bar whose decision has a complete step (growth defined)."""
    return n_bars - (3 if fill == "next_open" else 2)


def decision_range(
    n_bars: int, window: int, fill: str, start: int | None = None, end: int | None = None
) -> tuple[int, int]:
    """First and last decision bar (inclusive) of an env: a full window behind the first, a
    complete step after the last, both within ``[start, end]`` when given.

    Raises:
        ValueError: If no bar qualifies.
    """
    first = max(window - 1, start or 0)
    last = min(last_decision(n_bars, fill), end if end is not None else 1 << 62)
    if last < first:
        raise ValueError(f"no decision bars between {first} and {last}")
    return first, last


def positions_from_actions(
    actions: np.ndarray, allow_short: bool, initial: float = 0.0
) -> np.ndarray:
    """Positions held after each action, vectorized (a forward fill of buy/sell targets)."""
    actions = np.asarray(actions)
    sell_to = -1.0 if allow_short else 0.0
    targets = np.where(actions == BUY, 1.0, np.where(actions == SELL, sell_to, np.nan))
    filled = np.flatnonzero(~np.isnan(targets))
    last = np.full(len(actions), -1)
    last[filled] = filled
    last = np.maximum.accumulate(last)
    return np.where(last >= 0, targets[np.maximum(last, 0)], initial)


def simulate_positions(
    positions: np.ndarray, growth: np.ndarray, cost_bps: float, initial: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Net step returns and costs of holding the notional ``positions[i]`` over step i
    (vectorized; costs on ``|positions[i] - positions[i-1]|``, rebalancing included)."""
    positions = np.asarray(positions, dtype=np.float64)
    previous = np.concatenate([[initial], positions[:-1]])
    cost = trade_cost(previous, positions, cost_bps)
    return step_return(positions, growth, cost), cost
