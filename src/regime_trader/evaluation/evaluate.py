"""Evaluate a policy on a period beside the baselines and write the results folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regime_trader.config import Config
from regime_trader.data.split_report import same_source
from regime_trader.envs.market import MarketData
from regime_trader.evaluation.baselines import BASELINES
from regime_trader.evaluation.outputs import equity_frame
from regime_trader.evaluation.report import write_report
from regime_trader.evaluation.strong_baselines import STRONG_BASELINES
from regime_trader.policy.backtest import (
    BacktestResult,
    decision_range,
    policy_metrics,
    simulate,
)
from regime_trader.policy.metrics import (
    bars_per_year,
    per_regime_returns,
    period_summary,
    trade_table,
)
from regime_trader.policy.policy import Policy
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
    period: dict[str, object] = field(default_factory=dict)  # `period_summary` of the bars
    # bars first..last+1 (the last one ends the last step) and when each bar's decision fills
    decision_times: pd.DatetimeIndex | None = None
    fill_times: pd.DatetimeIndex | None = None


def evaluate_period(policy: Policy, market: MarketData, first: int, last: int) -> Evaluation:
    """Backtest of ``policy`` (its rule and sizing) and every baseline over decision bars
    ``first..last``."""
    results = {STRATEGY: policy.backtest(market, first, last)}
    cost = policy.config.env.cost_bps
    for name, positions_fn in {**BASELINES, **STRONG_BASELINES}.items():
        results[name] = simulate(market, positions_fn(market, first, last), first, last, cost)
    regimes = market.regimes.cpu().numpy()[first : last + 1]
    metrics = {k: policy_metrics(r, market) for k, r in results.items()}
    per_regime = {k: per_regime_returns(r.returns, regimes) for k, r in results.items()}
    close = pd.Series(market.close[first : last + 1], index=market.index[first : last + 1])
    period = period_summary(
        pd.DatetimeIndex(close.index), bars_per_year=bars_per_year(market.index)
    )
    off = 1 if policy.config.env.fill == "next_open" else 0
    times = market.index[first : last + 2], market.index[first + off : last + 2 + off]
    return Evaluation(results, metrics, per_regime, regimes, close, period, *times)


def period_rows(market: MarketData, start: str | None, end: str | None) -> tuple[int, int]:
    """Row range ``[lo, hi)`` of bars between two inclusive dates."""
    return rows_between(market.index, start, end)


def decision_bounds(market: MarketData, cfg: Config, lo: int, hi: int) -> tuple[int, int]:
    """First/last decision bars for rows ``[lo, hi)``."""
    return decision_range(market, cfg.env.window, cfg.env.fill, lo, hi)


def split_notes(split: dict[str, Any], period: dict[str, Any], tail_bars: int) -> list[str]:
    """Report lines saying which bars trained, selected and tested a model, and why the test
    period is shorter than the test part.

    Args:
        split: The run's split record (``split.json``, see ``data.split_report.split_record``).
        period: ``Evaluation.period`` of the test backtest.
        tail_bars: Bars after the last test decision (its fill and the step it is scored on).

    Returns:
        Two lines: the three periods; the embargo before the test period and the bars after it.
    """
    tr, va, te = split["train"], split["val"], split["test"]
    return [
        f"Trained on {tr['start']} to {tr['end']} ({tr['bars']} bars), model selected on "
        f"{va['start']} to {va['end']} ({va['bars']} bars, best validation Sharpe), tested on "
        f"{period['start']} to {period['end']} ({period['bars']} decisions).",
        f"The test period starts after an embargo of {split['embargo_bars']} bars (env.window) "
        "that follows the last validation bar, so no observation window reaches into "
        "validation, and it "
        f"ends {tail_bars} bar(s) before the data's last bar {te['end']} (a decision fills at "
        "the next bar and is scored up to the fill after it).",
    ]


def in_sample_note(split: dict[str, Any] | None, period: dict[str, Any], source: str) -> str | None:
    """A warning when a backtest of ``source`` reaches into the bars a run trained or was
    selected on (its ``split.json``); None when out of sample or not known.

    Args:
        split: The run's split record, or None (an older run without ``split.json``).
        period: ``Evaluation.period`` of the backtest.
        source: The data the backtest ran on (dataset name or file).
    """
    if not split or not period.get("start") or not same_source(split["source"], source):
        return None
    val_end = split["val"]["end"] or split["train"]["end"]
    if val_end is None or pd.Timestamp(period["start"]) > pd.Timestamp(val_end):
        return None
    return (
        f"In sample: this period overlaps the bars the model trained on (to "
        f"{split['train']['end']}) or was selected on (to {val_end}); its out-of-sample test "
        f"starts {split['test']['start']} (split.json)."
    )


def write_outputs(
    ev: Evaluation, out_dir: str | Path, *, title: str, notes: list[str] | None = None
) -> Path:
    """Write ``metrics.json``, ``per_regime.json``, ``equity.csv``, ``trades.csv`` and
    ``report.html`` into ``out_dir`` (columns: `outputs.equity_frame`, `metrics.trade_table`).

    ``metrics.json`` holds one entry per strategy and ``"period"``: the exact period traded
    and, for one shorter than a year, the note that its annualised figures are extrapolated.
    ``equity.csv`` starts every strategy at 1.0 on its first row and names the regimes.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", {**ev.metrics, "period": ev.period})
    atomic_write_json(out / "per_regime.json", ev.per_regime)
    strat = ev.results[STRATEGY]
    frame = equity_frame(ev.results, ev.regimes, ev.decision_times, ev.fill_times)
    atomic_write(out / "equity.csv", lambda p: frame.to_csv(p, index_label="timestamp"))
    fills = None if ev.fill_times is None else ev.fill_times[: len(strat.index)]
    trades = trade_table(
        strat.index, strat.returns, strat.positions, fill_prices=strat.fill_prices, fill_times=fills
    )
    atomic_write(out / "trades.csv", lambda p: trades.to_csv(p, index=False))
    marks = frame.get("fill_time", frame.index)
    equity = frame[list(ev.results)].set_axis(pd.DatetimeIndex(marks))
    write_report(
        out / "report.html",
        title=title,
        metrics=ev.metrics,
        equity=equity,
        close=ev.close,
        regimes=pd.Series(ev.regimes, index=ev.close.index),
        trades=trades,
        notes=notes,
        period=ev.period or None,
        per_regime=ev.per_regime,
        regime_accuracy=ev.metrics[STRATEGY].get("regime_accuracy"),
        files=True,
    )
    return out
