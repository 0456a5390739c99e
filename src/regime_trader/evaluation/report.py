"""Self-contained HTML backtest report: metrics and per-regime tables plus embedded figures.

Figures come from :mod:`regime_trader.evaluation.report_plots` as base64 ``data:`` URIs, so
the single HTML file has no external assets. The page is one readable column (max 1200 px
wide, figures at its full width) and reflows on a narrow screen.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from regime_trader.evaluation.metrics import (
    ANNUALISED_KEYS,
    METRIC_KEYS,
    avoidance_ratio,
    capture_ratio,
    describe_years,
)
from regime_trader.evaluation.report_plots import (
    drawdown_figure,
    equity_figure,
    figure_html,
    regime_figure,
)
from regime_trader.regimes import REGIME_NAMES
from regime_trader.utils.io import atomic_write, atomic_write_text

__all__ = [
    "CSS",
    "METRIC_LABELS",
    "capture_avoidance",
    "format_metric",
    "metrics_table_html",
    "period_lines",
    "per_regime_table_html",
    "write_report",
]

BENCHMARK = "buy_and_hold"
"""The policy capture and avoidance are measured against."""

PERCENT_KEYS = frozenset(
    {"total_return", "cagr", "max_drawdown", "exposure", "win_rate", "capture", "avoidance"}
)
_INT_KEYS = frozenset({"num_trades", "bars"})

METRIC_LABELS: dict[str, str] = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "sharpe": "Sharpe (ann.)",
    "sortino": "Sortino (ann.)",
    "max_drawdown": "Max drawdown",
    "calmar": "Calmar",
    "win_rate": "Win rate",
    "num_trades": "Trades",
    "exposure": "Exposure",
    "turnover": "Turnover (per year)",
    "capture": "Uptrend capture",
    "avoidance": "Downtrend avoidance",
    "regime_accuracy": "Regime accuracy",
}
"""Column headings of the raw metric keys (the key itself is the heading's tooltip)."""

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 0; background: #fafafa; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5em 2em 3em; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; } h2 { margin-top: 1.6em; font-size: 1.25em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em;
        font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d6d6d6; padding: 4px 9px; text-align: right; }
th { background: #f1f1f1; font-weight: 600; vertical-align: bottom; }
td.name, th.name { text-align: left; } td.name { font-weight: 600; white-space: nowrap; }
tr.good td { background: #eaf6ea; } tr.bad td { background: #fbeaea; }
img { width: 100%; height: auto; display: block; margin: 0.8em 0; }
p.warning { background: #fff4d6; border-left: 4px solid #e0a800; padding: 4px 8px; }
p.caption, ul.notes { color: #444; font-size: 0.92em; }
@media (max-width: 700px) { main { padding: 1em; } table { font-size: 0.8em; } }
"""


def label(key: str) -> str:
    """Human heading of a metric key, with its unit (``"max_drawdown"`` -> ``"Max drawdown"``)."""
    return METRIC_LABELS.get(key, key.replace("_", " ").capitalize())


def format_metric(key: str, value: float | None) -> str:
    """Format one metric value for display.

    Args:
        key: Metric name (one of :data:`METRIC_KEYS`, ``capture``, ``avoidance``, ...).
        value: The value; ``None`` or NaN shows as ``"n/a"``.

    Returns:
        ``"12.34%"`` for returns, drawdown, exposure, win rate, capture and avoidance; an
        integer for ``num_trades``; two decimals otherwise (ratios, turnover).
    """
    if value is None or not np.isfinite(float(value)):
        return "n/a"
    if key in PERCENT_KEYS or key == "regime_accuracy":
        return f"{float(value) * 100:.2f}%"
    if key in _INT_KEYS:
        return f"{int(round(float(value)))}"
    return f"{float(value):.2f}"


def period_lines(period: Mapping[str, object] | None) -> list[str]:
    """The period of a backtest in words, for a report or the terminal.

    Args:
        period: ``period_summary`` output (``start``, ``end``, ``bars``, ``years``, ``note``).

    Returns:
        ``["Period: 2016-02-17 to 2018-12-27 (719 bars, 2.9 years of decisions)"]``, plus
        ``"Note: annualised from 2.0 months ..."`` for a period shorter than a year; ``[]``
        without a period.
    """
    if not period or not period.get("bars"):
        return []
    years = float(period.get("years") or 0.0)  # type: ignore[arg-type]
    lines = [
        f"Period: {period['start']} to {period['end']} ({period['bars']} bars, "
        f"{describe_years(years)} of decisions; each fills at the next bar)"
    ]
    if period.get("note"):
        lines.append(f"Note: {period['note']}.")
    return lines


def _th(key: str, mark: str = "") -> str:
    return f'<th title="{html.escape(key)}">{html.escape(label(key))}{mark}</th>'


def html_table(header: str, rows: list[str], cls: str) -> str:
    """A horizontally scrollable ``<table>`` from a header row's cells and body rows."""
    body = "\n".join(rows)
    return f'<div class="scroll"><table class="{cls}">\n<tr>{header}</tr>\n{body}\n</table></div>'


def metrics_table_html(
    metrics: Mapping[str, Mapping[str, float]], *, flag_annualised: bool = False
) -> str:
    """HTML table with one row per strategy and one column per metric key.

    Args:
        metrics: ``{strategy_name: {metric_key: value}}``.
        flag_annualised: Mark the annualised columns (``ANNUALISED_KEYS``) with ``*`` (a
            period shorter than a year; the report explains the mark).

    Returns:
        An HTML ``<table class="metrics">`` string with escaped names; headings are
        :data:`METRIC_LABELS`, the raw key in each heading's ``title``.
    """
    head = '<th class="name">Strategy</th>' + "".join(
        _th(k, "*" if flag_annualised and k in ANNUALISED_KEYS else "") for k in METRIC_KEYS
    )
    rows = []
    for name, values in metrics.items():
        cells = "".join(
            f"<td>{html.escape(format_metric(k, values.get(k)))}</td>" for k in METRIC_KEYS
        )
        rows.append(f'<tr><td class="name">{html.escape(str(name))}</td>{cells}</tr>')
    return html_table(head, rows, "metrics")


def capture_avoidance(
    per_regime: Mapping[str, Mapping[str, float]], benchmark: str = BENCHMARK
) -> dict[str, dict[str, float]]:
    """Uptrend capture and downtrend avoidance of each strategy against ``benchmark``.

    `metrics.capture_ratio` / `metrics.avoidance_ratio` (the tidy rows' rule), from compounded returns ``R`` over the
    bars of a regime (``per_regime_returns``): ``capture = R_s / R_b`` over uptrend bars,
    NaN unless the benchmark gained at least :data:`MIN_MOVE` there; ``avoidance = 1 -
    max(-R_s, 0) / -R_b`` over downtrend bars, NaN unless it lost at least :data:`MIN_MOVE`.

    Args:
        per_regime: ``{strategy: {regime_name: compounded return}}``.
        benchmark: The strategy the ratios are measured against.

    Returns:
        ``{strategy: {"capture": ..., "avoidance": ...}}``; empty without the benchmark.
    """
    bench = per_regime.get(benchmark)
    if bench is None:
        return {}
    up, down = bench.get("uptrend", np.nan), bench.get("downtrend", np.nan)
    out = {}
    for name, r in per_regime.items():
        cap = capture_ratio(r.get("uptrend", np.nan), up)
        avoid = avoidance_ratio(r.get("downtrend", np.nan), down)
        out[name] = {"capture": float(cap), "avoidance": float(avoid)}
    return out


def per_regime_table_html(
    per_regime: Mapping[str, Mapping[str, float]], benchmark: str = BENCHMARK
) -> str:
    """Table of each strategy's compounded return in each regime, with capture/avoidance."""
    regimes = [r for r in REGIME_NAMES if any(r in v for v in per_regime.values())]
    ratios = capture_avoidance(per_regime, benchmark)
    head = '<th class="name">Strategy</th>' + "".join(
        f'<th title="{r}">Return in {r}</th>' for r in regimes
    )
    if ratios:
        head += _th("capture") + _th("avoidance")
    rows = []
    for name, values in per_regime.items():
        cells = "".join(f"<td>{format_metric('total_return', values.get(r))}</td>" for r in regimes)
        if ratios:
            cells += "".join(f"<td>{format_metric(k, ratios[name][k])}</td>" for k in ratios[name])
        rows.append(f'<tr><td class="name">{html.escape(str(name))}</td>{cells}</tr>')
    return html_table(head, rows, "per-regime")


def _regime_section(
    per_regime: Mapping[str, Mapping[str, float]] | None, regime_accuracy: float | None
) -> str:
    if not per_regime:
        return ""
    part = (
        "<h2>Results by regime</h2>\n"
        '<p class="caption">Compounded return over the bars spent in each regime. '
        "Uptrend capture = strategy / buy-and-hold return over uptrend bars (100% = all of "
        "the rise); downtrend avoidance = 1 &minus; strategy loss / buy-and-hold loss over "
        "downtrend bars (100% = none of the fall, 0% = all of it); n/a where buy-and-hold "
        "moved less than 1% in that regime.</p>\n" + per_regime_table_html(per_regime) + "\n"
    )
    if regime_accuracy is not None and np.isfinite(regime_accuracy):
        part += (
            f'<p class="accuracy">Regime accuracy of the strategy\'s detector: '
            f"<b>{regime_accuracy * 100:.1f}%</b> of the bars with a known rule label.</p>\n"
        )
    return part


def _notes_html(notes: list[str] | None, period: Mapping[str, object] | None) -> tuple[str, bool]:
    out = ""
    if notes:
        items = "".join(f"<li>{html.escape(str(n))}</li>" for n in notes)
        out = f'<ul class="notes">{items}</ul>\n'
    lines = period_lines(period)
    short = bool(period and period.get("note"))
    if lines:
        out += f'<p class="period">{html.escape(lines[0])}</p>\n'
    if short:
        out += f'<p class="warning">* {html.escape(lines[1])}</p>\n'
    return out, short


def html_page(title: str, body: str) -> str:
    """A whole HTML document around ``body`` with the shared inline stylesheet."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}</main>\n</body>\n</html>\n"
    )


def write_report(
    path: str | Path,
    *,
    title: str,
    metrics: dict[str, dict[str, float]],
    equity: pd.DataFrame,
    close: pd.Series,
    regimes: pd.Series,
    trades: pd.DataFrame,
    notes: list[str] | None = None,
    period: Mapping[str, object] | None = None,
    per_regime: Mapping[str, Mapping[str, float]] | None = None,
    regime_accuracy: float | None = None,
) -> Path:
    """Write a single self-contained HTML backtest report, atomically.

    Contents: the title, the notes, the exact period (``period``; with a warning when the
    annualised figures come from less than a year, their columns marked ``*``), a metrics
    table (rows = strategies, columns = :data:`METRIC_KEYS` under readable headings), the
    per-regime table (``per_regime``, with uptrend capture and downtrend avoidance against
    ``buy_and_hold`` when it is a row) and the detector's regime accuracy, then three embedded
    PNG figures: equity curves of every column of ``equity`` on a log axis, their drawdowns,
    and the close price coloured by regime with the trades' entries (``^`` long, ``v``
    short) and exits (``x``).

    Args:
        path: Output ``.html`` file; parent directories are created.
        title: Report title (HTML-escaped).
        metrics: ``{strategy_name: {metric_key: value}}`` as from ``compute_metrics``.
        equity: Equity curves indexed by timestamp, one column per strategy.
        close: Close prices indexed by timestamp.
        regimes: Regime code per timestamp (0 uptrend, 1 downtrend, 2 plateau,
            3 oscillating, -1 unknown); reindexed onto ``close``'s index.
        trades: Trades of the featured strategy, as from ``trade_table`` (``entry_time``,
            ``exit_time``, ``side`` and optionally ``entry_price``/``exit_price``; missing or
            NaN prices fall back to the close at that time).
        notes: Optional free-text lines shown under the title (HTML-escaped).
        period: Optional ``period_summary`` of the backtest (see :func:`period_lines`).
        per_regime: Optional ``{strategy: per_regime_returns(...)}`` (``Evaluation.per_regime``).
        regime_accuracy: Optional share of bars whose detected regime equals the rule label.

    Returns:
        The path written.

    Examples:
        >>> write_report("out/report.html", title="MSFT", metrics=ev.metrics, equity=eq,
        ...              close=ev.close, regimes=regimes, trades=trades,
        ...              per_regime=ev.per_regime)  # doctest: +SKIP
    """
    notes_html, short = _notes_html(notes, period)
    body = (
        f"{notes_html}<h2>Metrics</h2>\n{metrics_table_html(metrics, flag_annualised=short)}\n"
        + _regime_section(per_regime, regime_accuracy)
        + "<h2>Equity</h2>\n"
        + figure_html(equity_figure(equity), "Equity curves")
        + "\n<h2>Drawdown</h2>\n"
        + figure_html(drawdown_figure(equity), "Drawdowns")
        + "\n<h2>Price and regimes</h2>\n"
        + figure_html(regime_figure(close, regimes, trades), "Close price by regime with trades")
        + f"\n<p>{len(trades)} trades.</p>\n"
    )
    return atomic_write_text(path, html_page(title, body))


def save_regime_plot(path: str | Path, close: pd.Series, regimes: pd.Series) -> Path:
    """Write a PNG of the close price coloured by regime (the `regimes --plot` figure)."""
    empty = pd.DataFrame(columns=["entry_time", "exit_time", "side", "entry_price", "exit_price"])
    fig = regime_figure(close, regimes, empty)
    path = Path(path)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    return path
