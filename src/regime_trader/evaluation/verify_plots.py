"""Figures of the verification report, as inline ``<img>`` tags.

* equity and drawdown per series: the **mean equity curve over seeds** of each policy (each
  seed's windows chained in order, then the curves averaged step by step), its drawdown below;
* uptrend capture and downtrend avoidance bars per policy (means over runs, from the JSON);
* performance profiles: the share of runs whose Sharpe exceeds tau, per policy;
* price coloured by regime with the first candidate's trades (first seed), for the series
  given in ``prices``; skipped, and said so, without them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regime_trader.evaluation.metrics import drawdown, trade_table
from regime_trader.evaluation.report_plots import (
    bar_figure,
    figure_html,
    line_style,
    regime_figure,
    set_equity_ticks,
    x_values,
)
from regime_trader.regimes import REGIME_NAMES

__all__ = ["figure_sections", "mean_equity"]


def _chained(g: pd.DataFrame) -> pd.DataFrame:
    return g.sort_values(["window", "step"])


def mean_equity(returns: pd.DataFrame, series: str) -> pd.DataFrame:
    """Mean over seeds of each policy's equity curve on ``series`` (windows chained).

    Returns:
        Frame, one column per policy, indexed by the first seed's timestamps when they are
        increasing dates, else by the step of the chain; curves cut to the shortest seed.
    """
    sub = returns[returns["series"] == series]
    curves: dict[str, np.ndarray] = {}
    index: pd.Index | None = None
    for policy, g in sub.groupby("policy", sort=False):
        per_seed = [
            np.cumprod(1.0 + _chained(s)["ret"].to_numpy(np.float64))
            for _, s in g.groupby("seed", sort=True)
        ]
        n = min(len(c) for c in per_seed)
        curves[str(policy)] = np.mean([c[:n] for c in per_seed], axis=0)
        if index is None:
            first = _chained(g[g["seed"] == g["seed"].min()])
            stamps = pd.DatetimeIndex(pd.to_datetime(first["timestamp"], errors="coerce"))[:n]
            index = stamps if stamps.notna().all() and stamps.is_monotonic_increasing else None
    n = min((len(c) for c in curves.values()), default=0)
    if index is None or len(index) < n:
        index = pd.RangeIndex(n, name="step")
    return pd.DataFrame({k: c[:n] for k, c in curves.items()}, index=index[:n])


def _order(policies: list[str], report: Mapping[str, Any]) -> list[str]:
    s = report["settings"]
    first = [s["reference"], *s["candidates"]]
    return [p for p in first if p in policies] + [p for p in policies if p not in first]


def equity_drawdown_figure(equity: pd.DataFrame, title: str) -> Figure:
    """Mean equity (log axis, plain ticks) over its drawdown, sharing the time axis."""
    fig = Figure(figsize=(12.0, 5.6))
    ax, ax_dd = fig.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1], "hspace": 0.06}
    )
    x = x_values(equity.index)
    low, high = 1.0, 1.0
    for i, col in enumerate(equity.columns):
        y = equity[col].to_numpy(np.float64)
        style = line_style(str(col), i)
        good = y > 0
        if good.any():
            low, high = min(low, float(y[good].min())), max(high, float(y[good].max()))
        ax.plot(x, np.where(good, y, np.nan), label=str(col), **style)  # type: ignore[arg-type]
        dd = -100.0 * drawdown(y)
        if col == "buy_and_hold":
            ax_dd.fill_between(x, dd, 0.0, color="black", alpha=0.12, linewidth=0)
        ax_dd.plot(x, dd, **{**style, "linewidth": min(1.4, float(style["linewidth"]))})  # type: ignore[arg-type]
    ax.set_yscale("log")
    set_equity_ticks(ax, low, high)
    ax.axhline(1.0, color="black", linewidth=0.6, alpha=0.5)
    ax.set_title(title)
    ax.set_ylabel("mean equity (start = 1)")
    ax_dd.set_ylabel("drawdown (%)")
    for a in (ax, ax_dd):
        a.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", ncol=min(5, len(equity.columns)))
    if isinstance(equity.index, pd.RangeIndex):
        ax_dd.set_xlabel("decision step (windows chained)")
    return fig


def profile_figure(profiles: Mapping[str, Any], order: list[str]) -> Figure:
    """Performance profiles: fraction of runs with Sharpe > tau per policy."""
    fig = Figure(figsize=(12.0, 4.0))
    ax = fig.add_subplot()
    tau = np.asarray(profiles["tau"], dtype=np.float64)
    for i, policy in enumerate(order):
        frac = 100.0 * np.asarray(profiles["fraction"][policy], dtype=np.float64)
        ax.step(tau, frac, where="post", label=policy, **line_style(policy, i))  # type: ignore[arg-type]
    ax.set_xlabel("tau (annualised Sharpe)")
    ax.set_ylabel("runs with Sharpe > tau (%)")
    ax.set_title("Performance profiles (higher and further right is better)")
    ax.set_ylim(-3, 103)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", ncol=min(5, len(order)), loc="lower left")
    return fig


def _regime_codes(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.fillna(-1).astype(np.int64)
    names = {n: i for i, n in enumerate(REGIME_NAMES)}
    return values.map(lambda v: names.get(str(v), -1)).astype(np.int64)


def _price_section(series: str, frame: pd.DataFrame, returns: pd.DataFrame, policy: str) -> str:
    """Close by regime with ``policy``'s trades (first seed, windows chained)."""
    frame = frame.sort_index()
    close = frame["close"].astype(float)
    close.index = pd.DatetimeIndex(close.index)
    run = returns[(returns["series"] == series) & (returns["policy"] == policy)]
    trades = pd.DataFrame(columns=["entry_time", "exit_time", "side"])
    if not run.empty:
        run = _chained(run[run["seed"] == run["seed"].min()])
        idx = pd.DatetimeIndex(pd.to_datetime(run["timestamp"], errors="coerce"))
        if idx.notna().all() and idx.isin(close.index).all():
            idx = idx.tz_convert(close.index.tz) if close.index.tz and idx.tz else idx
            trades = trade_table(idx, run["ret"].to_numpy(), run["position"].to_numpy())
    fig = regime_figure(
        close,
        _regime_codes(frame["regime"]).set_axis(close.index),
        trades,
        title=f"{series}: close by regime, with {policy}'s trades (first seed)",
    )
    return figure_html(fig, f"{series} price by regime")


def figure_sections(
    report: Mapping[str, Any],
    returns: pd.DataFrame,
    prices: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """HTML of every figure section, in reading order."""
    policies = _order(list(report["policies"]), report)
    cap = report["capture"]
    bars = {
        "Uptrend capture": {
            p: cap[p]["capture"] for p in policies if cap[p]["capture"] is not None
        },
        "Downtrend avoidance": {
            p: cap[p]["avoidance"] for p in policies if cap[p]["avoidance"] is not None
        },
    }
    bars = {g: {p: 100.0 * v for p, v in d.items()} for g, d in bars.items()}
    parts = [
        "<h2>Uptrend capture and downtrend avoidance</h2>",
        '<p class="caption">Means over runs of each policy against buy-and-hold (100% capture '
        "= all of the rise, 100% avoidance = none of the fall; dashed line at 100%).</p>",
        figure_html(
            bar_figure(bars, title="Capture and avoidance by policy", ylabel="%", reference=100.0),
            "Capture and avoidance bars",
        ),
        "<h2>Performance profiles</h2>",
        figure_html(profile_figure(report["profiles"], policies), "Performance profiles"),
        "<h2>Equity and drawdown per series</h2>",
        '<p class="caption">Mean equity curve over seeds (each seed\'s walk-forward windows '
        "chained in order, then averaged step by step) and its drawdown.</p>",
    ]
    for series in report["settings"]["series"]:
        eq = mean_equity(returns, series)
        if len(eq) >= 2:
            eq = eq[[p for p in policies if p in eq.columns]]
            parts.append(figure_html(equity_drawdown_figure(eq, series), f"{series} equity"))
    parts.append("<h2>Price by regime, with trades</h2>")
    cands = report["settings"]["candidates"]
    shown = [s for s in report["settings"]["series"] if prices and s in prices]
    if not shown or not cands:
        parts.append(
            '<p class="caption">No prices were given (<code>prices=</code>), so this figure '
            "is skipped.</p>"
        )
    for series in shown:
        parts.append(_price_section(series, prices[series], returns, cands[0]))  # type: ignore[index]
    return "\n".join(parts) + "\n" + f"<!-- {html.escape('end of figures')} -->\n"
