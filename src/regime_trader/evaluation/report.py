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

from regime_trader.evaluation.outputs import regime_names
from regime_trader.evaluation.report_plots import (
    drawdown_figure,
    equity_figure,
    figure_html,
    log_prices,
    policy_label,
    regime_figure,
)
from regime_trader.evaluation.report_sections import (
    BENCHMARK,
    UPPER_BOUND,
    files_html,
    headline_html,
    headline_roles,
    regime_legend_html,
)
from regime_trader.evaluation.report_text import (
    CSS,
    METRIC_LABELS,
    format_metric,
    html_page,
    html_table,
    label,
    period_lines,
    th,
)
from regime_trader.policy.metrics import (
    ANNUALISED_KEYS,
    METRIC_KEYS,
    MIN_MOVE,
    avoidance_ratio,
    capture_ratio,
)
from regime_trader.regimes import REGIME_NAMES
from regime_trader.utils.io import atomic_write, atomic_write_text

__all__ = [
    "CSS",
    "METRIC_LABELS",
    "capture_avoidance",
    "format_metric",
    "html_page",
    "html_table",
    "label",
    "metrics_table_html",
    "period_lines",
    "per_regime_table_html",
    "save_regime_plot",
    "write_report",
]


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
        th(k, "*" if flag_annualised and k in ANNUALISED_KEYS else "") for k in METRIC_KEYS
    )
    rows = []
    for name, values in metrics.items():
        cells = "".join(
            f"<td>{html.escape(format_metric(k, values.get(k)))}</td>" for k in METRIC_KEYS
        )
        rows.append(f"<tr>{_name_cell(str(name))}{cells}</tr>")
    return html_table(head, rows, "metrics")


def _name_cell(name: str) -> str:
    """A strategy's readable name, its raw name as the tooltip."""
    return f'<td class="name" title="{html.escape(name)}">{html.escape(policy_label(name))}</td>'


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
    per_regime: Mapping[str, Mapping[str, float]],
    benchmark: str = BENCHMARK,
    *,
    bars: Mapping[str, int] | None = None,
    ratios: tuple[str, ...] = ("capture", "avoidance"),
) -> str:
    """Table of each strategy's compounded return in each regime, with capture/avoidance.

    Args:
        per_regime: ``{strategy: {regime: compounded return}}``.
        benchmark: The strategy capture and avoidance are measured against.
        bars: Bars spent in each regime; regimes with none are left out (default: every
            regime that appears).
        ratios: Which of ``capture`` and ``avoidance`` to show.
    """
    regimes = [r for r in REGIME_NAMES if any(r in v for v in per_regime.values())]
    if bars is not None:
        regimes = [r for r in regimes if bars.get(r, 0) > 0]
    values = capture_avoidance(per_regime, benchmark)
    shown = [k for k in ratios if values]

    def heading(r: str) -> str:
        n = f" ({bars[r]} bars)" if bars is not None else ""
        return f'<th title="{r}">Return in {r}{n}</th>'

    head = '<th class="name">Strategy</th>' + "".join(heading(r) for r in regimes)
    head += "".join(th(k) for k in shown)
    rows = []
    for name, v in per_regime.items():
        cells = "".join(f"<td>{format_metric('total_return', v.get(r))}</td>" for r in regimes)
        cells += "".join(f"<td>{format_metric(k, values[name][k])}</td>" for k in shown)
        rows.append(f"<tr>{_name_cell(str(name))}{cells}</tr>")
    return html_table(head, rows, "per-regime")


def _omitted(text: str) -> str:
    return f'<p class="omitted">{text}</p>\n'


def _regime_section(
    per_regime: Mapping[str, Mapping[str, float]] | None,
    regime_accuracy: float | None,
    bars: Mapping[str, int],
) -> str:
    if not per_regime:
        return ""
    rows = {k: v for k, v in per_regime.items() if k != UPPER_BOUND}
    bench = rows.get(BENCHMARK, {})
    ratios = capture_avoidance(rows)
    shown, notes = [], []
    for key, regime, verb in (("capture", "uptrend", "gain"), ("avoidance", "downtrend", "lose")):
        move = bench.get(regime)
        if any(np.isfinite(v[key]) for v in ratios.values()):
            shown.append(key)
        elif bench:
            why = (
                f"no bar of this period was labelled {regime}"
                if not bars.get(regime, 0)
                else f"buy-and-hold did not {verb} at least "
                f"{MIN_MOVE:.0%} over the {regime} bars (it returned "
                f"{format_metric('total_return', move)}), so the ratio would say nothing"
            )
            notes.append(f"{label(key)} is left out: {why}.")
    empty = [r for r in REGIME_NAMES if not bars.get(r, 0)]
    if empty:
        notes.append(
            f"No bar of this period was labelled {' or '.join(empty)}, so "
            f"{'that column is' if len(empty) == 1 else 'those columns are'} left out."
        )
    part = (
        "<h2>Results by regime</h2>\n"
        '<p class="caption">Compounded return over the bars spent in each regime. '
        "Uptrend capture = strategy / buy-and-hold return over uptrend bars (100% = all of "
        "the rise); downtrend avoidance = 1 &minus; strategy loss / buy-and-hold loss over "
        "downtrend bars (100% = none of the fall, 0% = all of it).</p>\n"
        + per_regime_table_html(rows, bars=bars, ratios=tuple(shown))
        + "\n"
        + "".join(_omitted(html.escape(n)) for n in notes)
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


def _metrics_section(metrics: Mapping[str, Mapping[str, float]], short: bool) -> str:
    """Every strategy's metrics; the oracle, an upper bound, in a table of its own."""
    rows = {k: v for k, v in metrics.items() if k != UPPER_BOUND}
    part = "<h2>All strategies</h2>\n" + metrics_table_html(rows, flag_annualised=short) + "\n"
    if UPPER_BOUND in metrics:
        part += (
            "<h2>Upper bound (not a strategy)</h2>\n"
            '<p class="caption">The oracle holds the best long/flat path in hindsight at the '
            "same costs: no long/flat policy could have done better on these bars.</p>\n"
            + metrics_table_html({UPPER_BOUND: metrics[UPPER_BOUND]}, flag_annualised=short)
            + "\n"
        )
    return part


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
    files: bool = False,
) -> Path:
    """Write a single self-contained HTML backtest report, atomically.

    Contents, in reading order: the title, the notes and the exact period (with a warning
    when the annualised figures come from less than a year, their columns marked ``*``);
    the **headline** (every agent against buy-and-hold and the best simple rule by Sharpe);
    every strategy's metrics under readable headings (an ``oracle`` row, if any, apart as
    the upper bound it is); the per-regime table (regimes with no bars and undefined
    capture/avoidance columns left out, each with a line saying why) and the detector's
    regime accuracy; equity curves (log axis), drawdowns, and the close coloured by regime
    with the trades' entries and exits at their fills, with the regime legend; with
    ``files``, a guide to the CSV files beside it.

    Args:
        path: Output ``.html`` file; parent directories are created.
        title: Report title (HTML-escaped).
        metrics: ``{strategy_name: {metric_key: value}}`` as from ``compute_metrics``.
        equity: Equity curves indexed by timestamp, one column per strategy.
        close: Close prices indexed by timestamp.
        regimes: Regime per timestamp, as names or codes (0 uptrend, 1 downtrend, 2 plateau,
            3 oscillating, -1 unknown); reindexed onto ``close``'s index.
        trades: Trades of the featured strategy, as from ``trade_table`` (``entry_time``,
            ``exit_time`` -- NaT while open --, ``side`` and optionally
            ``entry_price``/``exit_price``; missing or NaN prices fall back to the close).
        notes: Optional free-text lines shown under the title (HTML-escaped).
        period: Optional ``period_summary`` of the backtest (see :func:`period_lines`).
        per_regime: Optional ``{strategy: per_regime_returns(...)}`` (``Evaluation.per_regime``).
        regime_accuracy: Optional share of bars whose detected regime equals the rule label.
        files: Add the guide to ``equity.csv`` and ``trades.csv`` (`write_outputs`).

    Returns:
        The path written.

    Examples:
        >>> write_report("out/report.html", title="MSFT", metrics=ev.metrics, equity=eq,
        ...              close=ev.close, regimes=regimes, trades=trades,
        ...              per_regime=ev.per_regime)  # doctest: +SKIP
    """
    notes_html, short = _notes_html(notes, period)
    names = pd.Series(regime_names(regimes.reindex(close.index).to_numpy()))
    bars = {str(k): int(v) for k, v in names.value_counts().items()}
    roles = headline_roles(metrics, {k: v.get("sharpe") for k, v in metrics.items()})
    curves = equity[[n for _, n in roles if n in equity.columns] or list(equity.columns)]
    body = (
        notes_html
        + headline_html(metrics)
        + _metrics_section(metrics, short)
        + _regime_section(per_regime, regime_accuracy, bars)
        + "<h2>Equity</h2>\n"
        + '<p class="caption">The headline strategies; every other one is in the table '
        "above.</p>\n"
        + figure_html(equity_figure(curves), "Equity curves")
        + "\n<h2>Drawdown</h2>\n"
        + figure_html(drawdown_figure(curves), "Drawdowns")
        + "\n<h2>Price and regimes</h2>\n"
        + regime_legend_html(bars)
        + figure_html(regime_figure(close, regimes, trades), "Close price by regime")
        + f"\n<p>{len(trades)} trades of the {policy_label('strategy')}; markers at their "
        "fills.</p>\n" + (files_html() if files else "")
    )
    return atomic_write_text(path, html_page(title, body))


LONG_HISTORY_YEARS = 10.0
"""`save_regime_plot` draws a history at least this long on a log price axis."""


def save_regime_plot(path: str | Path, close: pd.Series, regimes: pd.Series) -> Path:
    """Write a PNG of the close price coloured by regime (the `regimes --plot` figure).

    No trades, so no "with trades" in its title; a log price axis for a long history (at
    least :data:`LONG_HISTORY_YEARS` of bars) or prices spanning more than a factor of
    `LOG_SPAN`, where equal moves in percent should look equal.
    """
    empty = pd.DataFrame(columns=["entry_time", "exit_time", "side", "entry_price", "exit_price"])
    index = pd.DatetimeIndex(close.index)
    years = (index[-1] - index[0]).days / 365.25 if len(index) > 1 else 0.0
    y = close.to_numpy(dtype=np.float64)
    fig = regime_figure(close, regimes, empty, log=years >= LONG_HISTORY_YEARS or log_prices(y))
    path = Path(path)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    return path
