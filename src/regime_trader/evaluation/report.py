"""Self-contained HTML backtest report: metrics table plus embedded PNG figures.

Figures are drawn on :class:`matplotlib.figure.Figure` objects (Agg rendering, no pyplot global
state) and embedded as base64 ``data:`` URIs, so the single HTML file has no external assets.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from regime_trader.evaluation.metrics import (
    ANNUALISED_KEYS,
    METRIC_KEYS,
    describe_years,
    drawdown,
)
from regime_trader.regimes import REGIME_NAMES
from regime_trader.utils.io import atomic_write, atomic_write_text

__all__ = ["format_metric", "metrics_table_html", "period_lines", "write_report"]

_PERCENT_KEYS = frozenset({"total_return", "cagr", "max_drawdown", "exposure", "win_rate"})
_INT_KEYS = frozenset({"num_trades"})
_REGIME_COLORS: dict[int, str] = {
    0: "tab:green",
    1: "tab:red",
    2: "tab:gray",
    3: "tab:orange",
    -1: "#d9d9d9",
}
_CSS = """
body { font-family: system-ui, -apple-system, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f0f0f0; } td.name { text-align: left; font-weight: 600; }
img { max-width: 100%; display: block; margin: 1em 0; }
p.warning { background: #fff4d6; border-left: 4px solid #e0a800; padding: 4px 8px; }
"""


def format_metric(key: str, value: float | None) -> str:
    """Format one metric value for display.

    Args:
        key: Metric name (one of :data:`METRIC_KEYS`).
        value: The value; ``None`` or NaN shows as ``"n/a"``.

    Returns:
        ``"12.34%"`` for returns, drawdown, exposure and win rate; an integer for
        ``num_trades``; two decimals otherwise (ratios, turnover).
    """
    if value is None or not np.isfinite(float(value)):
        return "n/a"
    if key in _PERCENT_KEYS:
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


def metrics_table_html(
    metrics: Mapping[str, Mapping[str, float]], *, flag_annualised: bool = False
) -> str:
    """HTML table with one row per strategy and one column per metric key.

    Args:
        metrics: ``{strategy_name: {metric_key: value}}``.
        flag_annualised: Mark the annualised columns (``ANNUALISED_KEYS``) with ``*`` (a
            period shorter than a year; the report explains the mark).

    Returns:
        An HTML ``<table>`` string with escaped names.
    """
    head = "".join(
        f"<th>{html.escape(k)}{'*' if flag_annualised and k in ANNUALISED_KEYS else ''}</th>"
        for k in METRIC_KEYS
    )
    rows = [f"<tr><th>strategy</th>{head}</tr>"]
    for name, values in metrics.items():
        cells = "".join(
            f"<td>{html.escape(format_metric(k, values.get(k)))}</td>" for k in METRIC_KEYS
        )
        rows.append(f'<tr><td class="name">{html.escape(str(name))}</td>{cells}</tr>')
    return '<table class="metrics">\n' + "\n".join(rows) + "\n</table>"


def _x(index: pd.Index) -> np.ndarray:
    """Timestamps as naive ``datetime64`` (fast for matplotlib), keeping wall-clock in UTC."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.to_numpy()


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Figure, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _equity_figure(equity: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    for col in equity.columns:
        s = equity[col].dropna()
        s = s[s > 0]  # log axis: ruined (zero) equity cannot be drawn
        ax.plot(_x(s.index), s.to_numpy(dtype=np.float64), label=str(col), linewidth=1.0)
    ax.set_yscale("log")
    ax.set_title("Equity (log scale)")
    ax.set_ylabel("equity")
    ax.grid(True, which="both", alpha=0.3)
    if len(equity.columns):
        ax.legend(loc="best", fontsize="small")
    return fig


def _drawdown_figure(equity: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(10, 3))
    ax = fig.add_subplot()
    for col in equity.columns:
        s = equity[col].dropna()
        dd = drawdown(s.to_numpy(dtype=np.float64))
        ax.plot(_x(s.index), -100.0 * dd, label=str(col), linewidth=1.0)
    ax.set_title("Drawdown")
    ax.set_ylabel("drawdown (%)")
    ax.grid(True, alpha=0.3)
    if len(equity.columns):
        ax.legend(loc="lower left", fontsize="small")
    return fig


def _marker_prices(times: pd.Series, prices: pd.Series | None, close: pd.Series) -> np.ndarray:
    """Trade prices, falling back to the close at that time where missing (NaN)."""
    at_close = close.reindex(pd.DatetimeIndex(times)).to_numpy(dtype=np.float64)
    if prices is None:
        return at_close
    p = pd.to_numeric(prices, errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isnan(p), at_close, p)


def _regime_figure(close: pd.Series, regimes: pd.Series, trades: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    x = _x(close.index)
    y = close.to_numpy(dtype=np.float64)
    codes = regimes.reindex(close.index).fillna(-1).to_numpy().astype(np.int64)
    handles: list[Artist] = []
    for code, color in _REGIME_COLORS.items():
        # segment i -> i+1 takes the colour of bar i: keep bar i and its successor.
        own = codes == code
        keep = own | np.r_[False, own[:-1]]
        if not own.any():
            continue
        label = REGIME_NAMES[code] if code >= 0 else "unknown"
        (line,) = ax.plot(x, np.where(keep, y, np.nan), color=color, linewidth=1.0, label=label)
        handles.append(line)
    if len(trades):
        side = trades["side"].astype(str).to_numpy()
        entry_t = pd.DatetimeIndex(trades["entry_time"])
        exit_t = pd.DatetimeIndex(trades["exit_time"])
        entry_p = _marker_prices(trades["entry_time"], trades.get("entry_price"), close)
        exit_p = _marker_prices(trades["exit_time"], trades.get("exit_price"), close)
        for name, marker, color in (("long", "^", "tab:blue"), ("short", "v", "tab:purple")):
            m = side == name
            if m.any():
                handles.append(
                    ax.scatter(
                        _x(entry_t[m]),
                        entry_p[m],
                        marker=marker,
                        color=color,
                        s=30,
                        zorder=3,
                        label=f"{name} entry",
                    )
                )
        handles.append(
            ax.scatter(_x(exit_t), exit_p, marker="x", color="black", s=25, zorder=3, label="exit")
        )
    ax.set_title("Close price by regime, with trades")
    ax.set_ylabel("close")
    ax.grid(True, alpha=0.3)
    if handles:
        ax.legend(handles=handles, loc="best", fontsize="small", ncol=2)
    return fig


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
) -> Path:
    """Write a single self-contained HTML backtest report, atomically.

    Contents: the title, the notes, the exact period (``period``; with a warning when the
    annualised figures come from less than a year, their columns marked ``*``), a metrics table (rows = strategies, columns =
    :data:`METRIC_KEYS`), then three embedded PNG figures: equity curves of every column of
    ``equity`` on a log axis, their drawdowns, and the close price coloured by regime with the
    trades' entries (``^`` long, ``v`` short) and exits (``x``).

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

    Returns:
        The path written.
    """
    figures = [
        _img(_equity_figure(equity), "Equity curves"),
        _img(_drawdown_figure(equity), "Drawdowns"),
        _img(_regime_figure(close, regimes, trades), "Close price by regime with trades"),
    ]
    notes_html = ""
    if notes:
        items = "".join(f"<li>{html.escape(str(n))}</li>" for n in notes)
        notes_html = f'<ul class="notes">{items}</ul>\n'
    lines = period_lines(period)
    short = bool(period and period.get("note"))
    if lines:
        notes_html += f'<p class="period">{html.escape(lines[0])}</p>\n'
    if short:
        notes_html += f'<p class="warning">* {html.escape(lines[1])}</p>\n'
    doc = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{notes_html}"
        f"<h2>Metrics</h2>\n{metrics_table_html(metrics, flag_annualised=short)}\n"
        "<h2>Equity</h2>\n" + figures[0] + "\n"
        "<h2>Drawdown</h2>\n" + figures[1] + "\n"
        "<h2>Price and regimes</h2>\n" + figures[2] + "\n"
        f"<p>{len(trades)} trades.</p>\n</body>\n</html>\n"
    )
    return atomic_write_text(path, doc)


def save_regime_plot(path: str | Path, close: pd.Series, regimes: pd.Series) -> Path:
    """Write a PNG of the close price coloured by regime (the `regimes --plot` figure)."""
    empty = pd.DataFrame(columns=["entry_time", "exit_time", "side", "entry_price", "exit_price"])
    fig = _regime_figure(close, regimes, empty)
    path = Path(path)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
    return path
