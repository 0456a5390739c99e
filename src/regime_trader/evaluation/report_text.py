"""Formatting shared by the HTML reports: metric headings and values, tables, the page."""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np

from regime_trader.policy.metrics import describe_years

__all__ = [
    "CSS",
    "METRIC_LABELS",
    "PERCENT_KEYS",
    "format_metric",
    "html_page",
    "html_table",
    "label",
    "period_lines",
    "th",
]

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
tr.agent td { background: #eef4fb; }
span.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em;
              vertical-align: -0.1em; border-radius: 2px; }
img { width: 100%; height: auto; display: block; margin: 0.8em 0; }
p.warning { background: #fff4d6; border-left: 4px solid #e0a800; padding: 4px 8px; }
p.headline { font-size: 1.05em; }
p.caption, ul.notes, p.omitted { color: #444; font-size: 0.92em; }
@media (max-width: 700px) { main { padding: 1em; } table { font-size: 0.8em; } }
"""


def label(key: str) -> str:
    """Human heading of a metric key, with its unit (``"max_drawdown"`` -> ``"Max drawdown"``)."""
    return METRIC_LABELS.get(key, key.replace("_", " ").capitalize())


def format_metric(key: str, value: float | None) -> str:
    """Format one metric value for display.

    Args:
        key: Metric name (one of `METRIC_KEYS`, ``capture``, ``avoidance``, ...).
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


def th(key: str, mark: str = "") -> str:
    """A ``<th>`` with the readable heading of ``key`` and the key as its tooltip."""
    return f'<th title="{html.escape(key)}">{html.escape(label(key))}{mark}</th>'


def html_table(header: str, rows: list[str], cls: str) -> str:
    """A horizontally scrollable ``<table>`` from a header row's cells and body rows."""
    body = "\n".join(rows)
    return f'<div class="scroll"><table class="{cls}">\n<tr>{header}</tr>\n{body}\n</table></div>'


def html_page(title: str, body: str) -> str:
    """A whole HTML document around ``body`` with the shared inline stylesheet."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}</main>\n</body>\n</html>\n"
    )
