"""Tidy rows (`results.RESULT_COLUMNS`) from backtests: whole period and per regime.

Per-regime figures use the steps whose label is that regime (true labels on synthetic bars,
causal rule labels on real ones). ``capture`` and ``avoidance`` compare with buy-and-hold on
the same steps: capture = strategy / buy-and-hold compounded return over uptrend steps
(NaN unless buy-and-hold gained >= 1% there); avoidance = 1 - strategy loss / buy-and-hold loss
over downtrend steps (NaN unless buy-and-hold lost >= 1% there). The per-regime Sharpe is
annualised over those steps taken together (not contiguous), as in the plan.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from regime_trader.envs.market import MarketData
from regime_trader.evaluation import baselines as base
from regime_trader.evaluation.oracle import oracle_positions
from regime_trader.evaluation.strong_baselines import strong_baseline_positions
from regime_trader.policy.backtest import BacktestResult, simulate
from regime_trader.policy.metrics import avoidance_ratio, capture_ratio, compute_metrics
from regime_trader.regimes import REGIME_NAMES

_METRICS = ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "num_trades")


def _compound(r: np.ndarray) -> float:
    return float(np.prod(1.0 + r) - 1.0)


def _row(
    key: dict[str, Any],
    policy: str,
    regime: str,
    idx: pd.DatetimeIndex,
    r: np.ndarray,
    p: np.ndarray,
    bpy: float,
) -> dict[str, Any]:
    m = compute_metrics(r, p, bars_per_year=bpy)
    row = {**key, "policy": policy, "regime": regime, "bars": len(r)}
    row["start"] = str(idx[0]) if len(idx) else ""
    row["end"] = str(idx[-1]) if len(idx) else ""
    row.update({k: m[k] for k in _METRICS})
    row["exposure"] = float(np.mean(p != 0)) if len(p) else 0.0
    row["turnover"] = m["turnover"]
    row["capture"] = row["avoidance"] = float("nan")
    return row


def policy_rows(
    key: dict[str, Any],
    policy: str,
    res: BacktestResult,
    bench: BacktestResult,
    labels: np.ndarray,
    bpy: float,
) -> list[dict]:
    """The ``"all"`` row and one row per regime present in ``labels`` (aligned with steps)."""
    rows = [_row(key, policy, "all", res.index, res.returns, res.positions, bpy)]
    for code, name in enumerate(REGIME_NAMES):
        mask = labels == code
        if mask.sum() < 2:
            continue
        row = _row(key, policy, name, res.index[mask], res.returns[mask], res.positions[mask], bpy)
        if name == "uptrend":
            row["capture"] = capture_ratio(
                _compound(res.returns[mask]), _compound(bench.returns[mask])
            )
        if name == "downtrend":
            row["avoidance"] = avoidance_ratio(
                _compound(res.returns[mask]), _compound(bench.returns[mask])
            )
        rows.append(row)
    return rows


def return_rows(key: dict[str, Any], policy: str, res: BacktestResult) -> pd.DataFrame:
    """Long-format step returns of one backtest (`results.RETURN_COLUMNS`)."""
    n = len(res.returns)
    return pd.DataFrame(
        {
            **{k: [v] * n for k, v in key.items()},
            "policy": policy,
            "step": np.arange(n),
            "timestamp": res.index,
            "ret": res.returns,
            "position": res.positions,
        }
    )


def baseline_results(
    market: MarketData, first: int, last: int, cost_bps: float, seed: int
) -> dict[str, BacktestResult]:
    """Buy-and-hold, SMA crossover, random and the hindsight oracle (the best long/flat path
    at these costs, an upper bound: `oracle.hindsight_oracle`), all through one accounting."""
    rng = np.random.default_rng([seed, 7])
    pos = {
        "buy_and_hold": base.buy_and_hold(market, first, last),
        "sma_crossover": base.sma_crossover(market, first, last),
        "random": base.random_positions(market, first, last, rng),
        "oracle": oracle_positions(market, first, last, cost_bps),
        **strong_baseline_positions(market, first, last),  # MA, vol-target, TSMOM, Markov
    }
    return {k: simulate(market, v, first, last, cost_bps) for k, v in pos.items()}
