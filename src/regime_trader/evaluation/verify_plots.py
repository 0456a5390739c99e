"""Figures of the verification report, as inline ``<img>`` tags.

The figures show the headline policies (the reference, the candidates, buy-and-hold and the
best simple rule; every other baseline is in the tables), never the oracle, which has a
section and a figure of its own on its own scale:

* uptrend capture and downtrend avoidance bars per policy (means over runs, from the JSON);
  a group without a value in any run is left out, with a line saying why;
* performance profiles: the share of runs whose Sharpe exceeds tau, per policy;
* equity and drawdown per series: the **mean equity curve over seeds** of each policy (for
  walk-forward results each seed's windows chained in order first), its drawdown below;
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

from regime_trader.evaluation.report_plots import (
    bar_figure,
    date_axis,
    figure_html,
    legend_below,
    line_style,
    policy_label,
    regime_codes,
    regime_figure,
    set_equity_ticks,
    x_values,
)
from regime_trader.evaluation.report_sections import UPPER_BOUND
from regime_trader.policy.metrics import MIN_MOVE, drawdown, trade_table

__all__ = ["figure_sections", "mean_equity", "upper_bound_figure"]


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
    """The headline policies in reading order: reference, candidates, buy-and-hold, rule."""
    s = report["settings"]
    first = [s["reference"], *s["candidates"], *(r["policy"] for r in report["headline"])]
    return [p for p in dict.fromkeys(first) if p in policies and p != UPPER_BOUND]


def equity_drawdown_figure(equity: pd.DataFrame, title: str, chained: bool = False) -> Figure:
    """Mean equity (log axis, plain ticks) over its drawdown, sharing the time axis."""
    fig = Figure(figsize=(12.0, 6.0), layout="constrained")
    ax, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    x = x_values(equity.index)
    low, high = 1.0, 1.0
    for i, col in enumerate(equity.columns):
        y = equity[col].to_numpy(np.float64)
        style = line_style(str(col), i)
        good = y > 0
        if good.any():
            low, high = min(low, float(y[good].min())), max(high, float(y[good].max()))
        ax.plot(x, np.where(good, y, np.nan), label=policy_label(str(col)), **style)  # type: ignore[arg-type]
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
    date_axis(ax_dd, equity.index)
    legend_below(fig, ncol=6)
    if isinstance(equity.index, pd.RangeIndex):
        ax_dd.set_xlabel("decision step" + (" (windows chained)" if chained else ""))
    return fig


def profile_figure(profiles: Mapping[str, Any], order: list[str]) -> Figure:
    """Performance profiles: fraction of runs with Sharpe > tau per policy."""
    fig = Figure(figsize=(12.0, 4.4), layout="constrained")
    ax = fig.add_subplot()
    tau = np.asarray(profiles["tau"], dtype=np.float64)
    for i, policy in enumerate(p for p in order if p in profiles["fraction"]):
        frac = 100.0 * np.asarray(profiles["fraction"][policy], dtype=np.float64)
        style = line_style(policy, i)
        ax.step(tau, frac, where="post", label=policy_label(policy), **style)  # type: ignore[arg-type]
    ax.set_xlabel("tau (annualised Sharpe)")
    ax.set_ylabel("runs with Sharpe > tau (%)")
    ax.set_title("Performance profiles (higher and further right is better)")
    ax.set_ylim(-3, 103)
    ax.grid(True, alpha=0.3)
    legend_below(fig, ncol=6)
    return fig


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
    with_trades = f", with the {policy_label(policy)}'s trades (first seed)" if len(trades) else ""
    fig = regime_figure(
        close,
        pd.Series(regime_codes(frame["regime"]), index=close.index),
        trades,
        title=f"{series}: close by regime{with_trades}",
    )
    return figure_html(fig, f"{series} price by regime")


_WHY_EMPTY = {
    "Uptrend capture": f"buy-and-hold gained less than {MIN_MOVE:.0%} over the uptrend bars of "
    "every run (or no bar was labelled uptrend), so capture is undefined",
    "Downtrend avoidance": f"buy-and-hold lost less than {MIN_MOVE:.0%} over the downtrend bars "
    "of every run (or no bar was labelled downtrend), so avoidance is undefined",
}


def _ratio_groups(cap: Mapping[str, Any], policies: list[str]) -> dict[str, dict[str, float]]:
    groups = {"Uptrend capture": "capture", "Downtrend avoidance": "avoidance"}
    return {
        g: {p: 100.0 * cap[p][k] for p in policies if p in cap and cap[p][k] is not None}
        for g, k in groups.items()
    }


def _omitted(groups: Mapping[str, Mapping[str, float]]) -> str:
    return "".join(
        f'<p class="omitted">{g} is left out: {html.escape(_WHY_EMPTY[g])}.</p>'
        for g, v in groups.items()
        if not v
    )


def figure_sections(
    report: Mapping[str, Any],
    returns: pd.DataFrame,
    prices: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """HTML of every figure section, in reading order."""
    policies = _order(list(report["policies"]), report)
    wf = bool(report["settings"].get("walk_forward"))
    groups = _ratio_groups(report["capture"], policies)
    parts = ["<h2>Uptrend capture and downtrend avoidance</h2>"]
    if any(groups.values()):
        parts += [
            '<p class="caption">Means over runs of each policy against buy-and-hold (100% '
            "capture = all of the rise, 100% avoidance = none of the fall; dashed line at "
            "100%). The oracle's are in its own section below, on its own scale.</p>",
            figure_html(
                bar_figure(groups, title="Capture and avoidance by policy", ylabel="%",
                           reference=100.0),
                "Capture and avoidance bars",
            ),
        ]  # fmt: skip
    parts += [_omitted(groups), "<h2>Performance profiles</h2>"]
    parts.append(figure_html(profile_figure(report["profiles"], policies), "Performance profiles"))
    chain = "each seed's walk-forward windows chained in order, then " if wf else ""
    parts += [
        "<h2>Equity and drawdown per series</h2>",
        f'<p class="caption">Mean equity curve over seeds ({chain}averaged step by step) and '
        "its drawdown, for the headline policies; the other baselines are in the tables.</p>",
    ]
    for series in report["settings"]["series"]:
        eq = mean_equity(returns, series)
        if len(eq) >= 2:
            eq = eq[[p for p in policies if p in eq.columns]]
            fig = equity_drawdown_figure(eq, series, chained=wf)
            parts.append(figure_html(fig, f"{series} equity"))
    parts.append("<h2>Price by regime, with trades</h2>")
    cands = report["settings"]["candidates"]
    shown = [s for s in report["settings"]["series"] if prices and s in prices]
    if not shown or not cands:
        parts.append(
            '<p class="omitted">Price charts are not drawn: these results keep each '
            "policy's returns and positions, not the prices of the bars.</p>"
        )
    for series in shown:
        parts.append(_price_section(series, prices[series], returns, cands[0]))  # type: ignore[index]
    return "\n".join(parts) + "\n" + f"<!-- {html.escape('end of figures')} -->\n"


def upper_bound_figure(report: Mapping[str, Any]) -> str:
    """The oracle's mean final equity per series beside buy-and-hold's, on a log axis of its
    own (the oracle's gains run to thousands of percent)."""
    recs = report["upper_bound"]
    if not recs:
        return ""
    bench = {
        r["series"]: r["total_return"]
        for r in report["scenarios"]
        if r["policy"] == "buy_and_hold" and r["total_return"] is not None
    }
    values = {
        str(r["series"]): {
            UPPER_BOUND: 1.0 + r["total_return"],
            **({"buy_and_hold": 1.0 + bench[r["series"]]} if r["series"] in bench else {}),
        }
        for r in recs
        if r["total_return"] is not None
    }
    fig = bar_figure(
        values,
        title="Oracle (hindsight upper bound): mean final equity per series",
        ylabel="final equity (start = 1, log scale)",
        log_growth=True,
    )
    return figure_html(fig, "Oracle upper bound") + "\n"
