"""Evaluate a policy on a period beside the baselines and write the results folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from regime_trader.config import Config
from regime_trader.envs.market import MarketData
from regime_trader.evaluation.backtest import (
    BacktestResult,
    decision_range,
    greedy_backtest,
    regime_accuracy,
    simulate,
)
from regime_trader.evaluation.baselines import BASELINES
from regime_trader.evaluation.metrics import (
    bars_per_year,
    compute_metrics,
    per_regime_returns,
    trade_table,
)
from regime_trader.evaluation.report import write_report
from regime_trader.utils.dates import rows_between
from regime_trader.utils.io import atomic_write, atomic_write_json

STRATEGY = "strategy"


@dataclass
class Evaluation:
    """Backtests of the agent and the baselines over one period."""

    results: dict[str, BacktestResult]
    metrics: dict[str, dict[str, float]]
    per_regime: dict[str, dict[str, float]]
    regimes: np.ndarray
    close: pd.Series
    extra: dict[str, float] = field(default_factory=dict)


def policy_metrics(result: BacktestResult, market: MarketData) -> dict[str, float]:
    """`compute_metrics` of a greedy backtest, plus ``regime_accuracy`` for networks with a
    regime detector."""
    metrics = compute_metrics(
        result.returns, result.positions, bars_per_year=bars_per_year(market.index)
    )
    accuracy = regime_accuracy(result, market)
    if accuracy is not None:
        metrics["regime_accuracy"] = accuracy
    return metrics


def evaluate_period(
    net: nn.Module, market: MarketData, first: int, last: int, cfg: Config
) -> Evaluation:
    """Greedy backtest of ``net`` and every baseline over decision bars ``first..last``."""
    results = {STRATEGY: greedy_backtest(net, market, first, last, cfg.env)}
    for name, positions_fn in BASELINES.items():
        results[name] = simulate(
            market, positions_fn(market, first, last), first, last, cfg.env.cost_bps
        )
    regimes = market.regimes.cpu().numpy()[first : last + 1]
    metrics = {k: policy_metrics(r, market) for k, r in results.items()}
    per_regime = {k: per_regime_returns(r.returns, regimes) for k, r in results.items()}
    close = pd.Series(market.close[first : last + 1], index=market.index[first : last + 1])
    return Evaluation(results, metrics, per_regime, regimes, close)


def period_rows(market: MarketData, start: str | None, end: str | None) -> tuple[int, int]:
    """Row range ``[lo, hi)`` of bars between two inclusive dates."""
    return rows_between(market.index, start, end)


def decision_bounds(market: MarketData, cfg: Config, lo: int, hi: int) -> tuple[int, int]:
    """First/last decision bars for rows ``[lo, hi)``."""
    return decision_range(market, cfg.env.window, cfg.env.fill, lo, hi)


def write_outputs(
    ev: Evaluation, out_dir: str | Path, *, title: str, notes: list[str] | None = None
) -> Path:
    """Write ``metrics.json``, ``equity.csv``, ``trades.csv`` and ``report.html`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", {**ev.metrics})
    atomic_write_json(
        out / "per_regime.json", {**ev.per_regime, **({"extra": ev.extra} if ev.extra else {})}
    )
    equity = pd.DataFrame(
        {k: r.equity for k, r in ev.results.items()}, index=ev.results[STRATEGY].index
    )
    strat = ev.results[STRATEGY]
    frame = equity.assign(position=strat.positions, regime=ev.regimes)
    atomic_write(out / "equity.csv", lambda p: frame.to_csv(p, index_label="timestamp"))
    trades = trade_table(strat.index, strat.returns, strat.positions, fill_prices=strat.fill_prices)
    atomic_write(out / "trades.csv", lambda p: trades.to_csv(p, index=False))
    regimes = pd.Series(ev.regimes, index=ev.close.index)
    write_report(
        out / "report.html",
        title=title,
        metrics=ev.metrics,
        equity=equity,
        close=ev.close,
        regimes=regimes,
        trades=trades,
        notes=notes,
    )
    return out
