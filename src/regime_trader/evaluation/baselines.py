"""Baseline strategies through the same accounting as the agent: buy-and-hold, SMA crossover
and random (only the first two are in `BASELINES`, which every per-run report shows; the
hindsight oracle, an upper bound, is `regime_trader.evaluation.oracle`). The strong rules
(200-bar SMA, vol target, both, 12-month momentum, Markov switching) are `STRONG_BASELINES`,
from `regime_trader.evaluation.strong_baselines`, with the same signature."""

from __future__ import annotations

import numpy as np
import talib

from regime_trader.envs.market import MarketData
from regime_trader.evaluation.strong_baselines import (
    STRONG_BASELINES,
    best_simple_rule,
    strong_baseline_positions,
)


def buy_and_hold(market: MarketData, first: int, last: int) -> np.ndarray:
    """Long from the first decision to the end."""
    return np.ones(last - first + 1)


def sma_crossover(
    market: MarketData, first: int, last: int, fast: int = 50, slow: int = 200
) -> np.ndarray:
    """Long while SMA(fast) > SMA(slow) at the decision bar's close, else flat (causal).

    The averages run over the whole series up to each bar, so a period's first decisions
    already see a full history; bars without enough history are flat.
    """
    close = market.close
    fast_ma = talib.SMA(close, timeperiod=fast)
    slow_ma = talib.SMA(close, timeperiod=slow)
    signal = np.nan_to_num(fast_ma, nan=0.0) > np.nan_to_num(slow_ma, nan=np.inf)
    return signal[first : last + 1].astype(np.float64)


def random_positions(
    market: MarketData, first: int, last: int, rng: np.random.Generator, p_trade: float = 0.05
) -> np.ndarray:
    """A random long/flat policy: at each decision, with probability ``p_trade`` switch side
    (so it trades about as often as the agents, not every bar)."""
    flips = rng.random(last - first + 1) < p_trade
    return (np.cumsum(flips) % 2).astype(np.float64)


BASELINES = {"buy_and_hold": buy_and_hold, "sma_crossover": sma_crossover}

__all__ = [
    "BASELINES",
    "STRONG_BASELINES",
    "best_simple_rule",
    "buy_and_hold",
    "random_positions",
    "sma_crossover",
    "strong_baseline_positions",
]
