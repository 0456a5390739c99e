"""Pure execution maths shared by every engine (Gymnasium env, batched env, backtest).

Each function works on NumPy arrays and on torch tensors alike, so both engines compute
the same numbers with the same code.

Timing (ARCHITECTURE.md "Execution"): the decision taken at the close of bar t fills at
``fill[t]`` (the open of t+1 by default, or the close of t), paying ``cost_bps`` on the
traded notional. The step return of decision t runs from ``fill[t]`` to ``fill[t+1]``.
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
    """Cost of moving between positions, as a fraction of equity."""
    return _abs(new_position - old_position) * (cost_bps * 1e-4)


def step_return(new_position: Any, growth: Any, cost: Any) -> Any:
    """Net simple return of one step: pay the cost at the fill, then hold ``new_position``.

    ``growth`` is ``fill[t+1] / fill[t]``.
    """
    return (1.0 - cost) * (1.0 + new_position * (growth - 1.0)) - 1.0


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
    """Net step returns and costs of holding ``positions[i]`` over step i (vectorized)."""
    positions = np.asarray(positions, dtype=np.float64)
    previous = np.concatenate([[initial], positions[:-1]])
    cost = trade_cost(previous, positions, cost_bps)
    return step_return(positions, growth, cost), cost
