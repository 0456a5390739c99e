"""Rich tables the CLI prints: metrics per strategy, return per regime."""

from __future__ import annotations

from rich.table import Table

from regime_trader.cli.base import out

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
