"""Sections shared by the per-run report and the verification report: the headline (the
agent against buy-and-hold and the best simple rule), the regime legend and the file guide."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from matplotlib.colors import to_hex

from regime_trader.evaluation.outputs import REGIME_LEGEND
from regime_trader.evaluation.report_plots import REGIME_COLORS, policy_label
from regime_trader.evaluation.report_text import format_metric, html_table, th
from regime_trader.evaluation.strong_baselines import STRONG_BASELINES
from regime_trader.regimes import REGIME_NAMES

__all__ = [
    "BASELINE_NAMES",
    "BENCHMARK",
    "SIMPLE_RULES",
    "UPPER_BOUND",
    "best_rule",
    "files_html",
    "headline_html",
    "headline_roles",
    "is_agent",
    "regime_legend_html",
]

BENCHMARK = "buy_and_hold"
UPPER_BOUND = "oracle"
SIMPLE_RULES: tuple[str, ...] = ("sma_crossover", *STRONG_BASELINES)
"""Causal rule baselines a skeptic would try first; the best of them heads every report."""
BASELINE_NAMES = frozenset({BENCHMARK, "random", UPPER_BOUND, *SIMPLE_RULES})
HEADLINE_KEYS = ("total_return", "cagr", "sharpe", "max_drawdown", "num_trades")


def is_agent(name: str) -> bool:
    """Whether ``name`` is a trained policy (not a baseline or the oracle)."""
    return str(name) not in BASELINE_NAMES


def best_rule(scores: Mapping[str, float | None]) -> str | None:
    """The simple rule with the highest score among those scored (ties: `SIMPLE_RULES`
    order); None without one."""
    scored = {r: scores.get(r) for r in SIMPLE_RULES}
    ranked = [(float(v), -i, r) for i, (r, v) in enumerate(scored.items()) if v is not None]
    return max(ranked)[2] if ranked else None


def headline_roles(
    names: Iterable[str], scores: Mapping[str, float | None]
) -> list[tuple[str, str]]:
    """``[(role, policy)]``: every agent, buy-and-hold and the best simple rule (by score)."""
    names = list(names)
    roles = [("agent", n) for n in names if is_agent(n)]
    if BENCHMARK in names:
        roles.append(("buy-and-hold", BENCHMARK))
    rule = best_rule({n: scores.get(n) for n in names})
    if rule is not None:
        roles.append(("best simple rule", rule))
    return roles


def _sentence(metrics: Mapping[str, Mapping[str, float]], roles: list[tuple[str, str]]) -> str:
    def fig(name: str) -> str:
        m = metrics[name]
        ret, sharpe = format_metric("total_return", m.get("total_return")), m.get("sharpe")
        return f"{ret} (Sharpe {format_metric('sharpe', sharpe)})"

    agents = [n for r, n in roles if r == "agent"]
    others = [(r, n) for r, n in roles if r != "agent"]
    if not agents or not others:
        return ""
    lead = "; ".join(f"{html.escape(policy_label(a))} returned <b>{fig(a)}</b>" for a in agents)
    vs = " and ".join(
        f"{fig(n)} for {html.escape(policy_label(n))}"
        + (" (the best simple rule by Sharpe on this period, picked in hindsight)" if r != "buy-and-hold" else "")
        for r, n in others
    )  # fmt: skip
    return f'<p class="headline">The {lead}, against {vs}.</p>\n'


def headline_html(metrics: Mapping[str, Mapping[str, float]]) -> str:
    """The report's first section: the agent, buy-and-hold and the best simple rule."""
    roles = headline_roles(metrics, {k: v.get("sharpe") for k, v in metrics.items()})
    if not roles:
        return ""
    head = '<th class="name">Role</th><th class="name">Strategy</th>' + "".join(
        th(k) for k in HEADLINE_KEYS
    )
    rows = []
    for role, name in roles:
        cells = "".join(f"<td>{format_metric(k, metrics[name].get(k))}</td>" for k in HEADLINE_KEYS)
        cls = ' class="agent"' if role == "agent" else ""
        rows.append(
            f'<tr{cls}><td class="name">{role}</td><td class="name" title="{html.escape(name)}">'
            f"{html.escape(policy_label(name))}</td>{cells}</tr>"
        )
    return "<h2>Headline</h2>\n" + _sentence(metrics, roles) + html_table(head, rows, "headline")


def regime_legend_html(present: Iterable[str] | None = None) -> str:
    """The regime names, their colours in the figures and what they mean."""
    shown = set(present) if present is not None else None
    items = []
    for code, color in REGIME_COLORS.items():
        name = REGIME_NAMES[code] if code >= 0 else "unknown"
        if shown is not None and name not in shown:
            continue
        items.append(
            f'<li><span class="swatch" style="background:{to_hex(color)}"></span>'
            f"<b>{name}</b>: {html.escape(REGIME_LEGEND[name])}</li>"
        )
    return (
        '<p class="caption">Regimes are the causal rule labels of each bar (docs/regimes.md), '
        "written by name in the CSV files:</p>\n"
        f'<ul class="notes legend">{"".join(items)}</ul>\n'
    )


FILES = (
    ("metrics.json", "the metrics of every strategy and the exact period."),
    ("per_regime.json", "each strategy's compounded return inside each regime."),
    (
        "equity.csv",
        "one row per decision bar (<code>timestamp</code>) and a last row that only ends the "
        "last step. Every strategy's equity starts at 1.0 on the first row; each row's "
        "equity is marked at <code>fill_time</code>, the fill of that bar's decision (the "
        "next open), before that decision trades. <code>position</code> is the notional held "
        "from that fill to the next; <code>regime</code> is the bar's label by name.",
    ),
    (
        "trades.csv",
        "one row per trade: <code>entry_decision_time</code> (the bar whose close decided "
        "it), <code>entry_time</code> and <code>entry_price</code> (its fill), "
        "<code>exit_decision_time</code>, <code>exit_time</code> and <code>exit_price</code> "
        "(the decision that ended it and its fill; empty for a trade still open at the end), "
        "<code>side</code>, <code>bars</code> held and the net <code>return</code> after costs.",
    ),
)


def files_html() -> str:
    """The guide to the files written beside a backtest report."""
    items = "".join(f"<li><code>{name}</code>: {text}</li>" for name, text in FILES)
    return f'<h2>Files beside this report</h2>\n<ul class="notes">{items}</ul>\n'
