"""Rich tables the CLI prints: metrics per strategy, return per regime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from regime_trader.cli.base import out

if TYPE_CHECKING:
    import pandas as pd

METRIC_LABELS = {
    "total_return": "return",
    "cagr": "CAGR",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "max DD",
    "calmar": "Calmar",
    "win_rate": "win rate",
    "num_trades": "trades",
    "exposure": "exposure",
    "turnover": "turnover/yr",
}


def print_metrics(metrics: dict[str, dict[str, float]], title: str = "Backtest") -> None:
    """A rich table: one row per strategy, one column per metric of `METRIC_LABELS`."""
    from regime_trader.evaluation.report import format_metric

    table = Table("strategy", *METRIC_LABELS.values(), title=title)
    for name, m in metrics.items():
        table.add_row(name, *(format_metric(k, m[k]) for k in METRIC_LABELS))
    out.print(table)


def print_per_regime(per_regime: dict[str, dict[str, float]]) -> None:
    """Compounded return of each strategy inside each regime."""
    names = list(next(iter(per_regime.values())))
    table = Table("strategy", *names, title="Return by regime")
    for name, r in per_regime.items():
        table.add_row(name, *(f"{r[k]:+.1%}" for k in names))
    out.print(table)


AGENTS = ("original", "regime_aware", "calibrated")


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:.0%}"


def print_summary(rows: pd.DataFrame, title: str, policies: tuple[str, ...] | None = None) -> None:
    """Means over seeds and windows per part and policy (`results.summary`): Sharpe, return,
    max drawdown, trades, uptrend capture, downtrend avoidance; ``policies`` keeps some."""
    from regime_trader.evaluation.results import summary

    table = Table(
        "part",
        "policy",
        "runs",
        "Sharpe",
        "return",
        "max DD",
        "trades",
        "up capture",
        "down avoid",
        title=title,
    )
    s = summary(rows)
    if policies is not None:
        s = s[s["policy"].isin(policies)]
    for r in s.to_dict("records"):
        name = Path(str(r["series"])).name.split(".")[0]
        part = f"scenario: {name}" if r["kind"] == "synthetic" else f"{r['kind']}: {name}"
        table.add_row(
            part,
            str(r["policy"]),
            str(r["runs"]),
            f"{r['sharpe']:.2f}",
            f"{r['total_return']:+.1%}",
            f"{r['max_drawdown']:.1%}",
            f"{r['num_trades']:.0f}",
            _pct(r["capture"]),
            _pct(r["avoidance"]),
        )
    out.print(table)
