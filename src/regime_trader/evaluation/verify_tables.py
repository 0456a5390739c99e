"""Tables of the verification report, rendered as Markdown and as a self-contained HTML page.

Both renderings format the numbers of one `build_verification` dict through the same column
specs (`tables`), so the Markdown, the HTML and the JSON agree digit for digit. Policies are
shown by their readable names (``policy`` cells), a table without rows is left out with a
line saying why, and the wording follows the kind of results: windows are mentioned only
for walk-forward results.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from regime_trader.evaluation.report_plots import policy_label
from regime_trader.evaluation.report_text import html_page, html_table


class Column(NamedTuple):
    """One column: the record keys shown in its cells, its heading and number format."""

    keys: tuple[str, ...]
    label: str
    fmt: str  # "text", "policy" (a policy's readable name), "int", "num" (3 decimals), "num1"
    # (1 decimal), "pct" (x100, 1 decimal, with %), "p" (4 decimals)


DECIMALS = {"num": 3, "pct": 1, "p": 4, "num1": 1}
TEXT_FORMATS = frozenset({"text", "policy"})

HEADLINE = (
    Column(("series",), "Series", "text"),
    Column(("role",), "Role", "text"),
    Column(("policy",), "Policy", "policy"),
    Column(("n_runs",), "Runs", "int"),
    Column(("total_return",), "Total return", "pct"),
    Column(("sharpe",), "Sharpe (ann.)", "num"),
    Column(("max_drawdown",), "Max drawdown", "pct"),
    Column(("num_trades",), "Trades", "num1"),
)
PERIODS = (
    Column(("series",), "Series", "text"),
    Column(("kind",), "Kind", "text"),
    Column(("window",), "Window", "int"),
    Column(("start",), "First decision", "text"),
    Column(("end",), "Last decision", "text"),
    Column(("bars",), "Decisions", "int"),
    Column(("buy_and_hold",), "Buy-and-hold return", "pct"),
)

VERDICT = (
    Column(("candidate",), "Candidate", "policy"),
    Column(("scope",), "Series", "text"),
    Column(("n_runs",), "Runs", "int"),
    Column(("sharpe_candidate",), "Sharpe, candidate", "num"),
    Column(("sharpe_reference",), "Sharpe, reference", "num"),
    Column(("sharpe_diff",), "Mean Sharpe diff.", "num"),
    Column(("ci_low", "ci_high"), "95% CI, mean cell Sharpe diff. (hierarchical)", "num"),
    Column(("p_boot",), "p, bootstrap", "p"),
    Column(("p_perm",), "p, sign-flip (series; cells in one series)", "p"),
    Column(("p_holm",), "p, Holm", "p"),
    Column(("verdict",), "Verdict", "text"),
)
AGGREGATES = (
    Column(("candidate",), "Candidate", "policy"),
    Column(("scope",), "Series", "text"),
    Column(("iqm", "iqm_low", "iqm_high"), "IQM Sharpe, candidate [95% CI]", "num"),
    Column(("iqm_reference",), "IQM Sharpe, reference", "num"),
    Column(("poi", "poi_low", "poi_high"), "P(improvement) [95% CI]", "pct"),
    Column(("wins", "n_runs"), "Runs won / runs", "int"),
    Column(("dsr",), "Deflated Sharpe (prob.)", "pct"),
)
SCENARIOS = (
    Column(("series",), "Series", "text"),
    Column(("kind",), "Kind", "text"),
    Column(("policy",), "Policy", "policy"),
    Column(("n_runs",), "Runs", "int"),
    Column(("total_return",), "Total return", "pct"),
    Column(("sharpe",), "Sharpe (ann.)", "num"),
    Column(("max_drawdown",), "Max drawdown", "pct"),
    Column(("exposure",), "Exposure", "pct"),
    Column(("num_trades",), "Trades", "num1"),
    Column(("capture",), "Uptrend capture", "pct"),
    Column(("avoidance",), "Downtrend avoidance", "pct"),
)
REGIMES = (
    Column(("kind",), "Kind", "text"),
    Column(("regime",), "Regime", "text"),
    Column(("policy",), "Policy", "policy"),
    Column(("n_runs",), "Runs", "int"),
    Column(("total_return",), "Return in regime", "pct"),
    Column(("sharpe",), "Sharpe (ann.)", "num"),
    Column(("exposure",), "Exposure", "pct"),
    Column(("capture",), "Uptrend capture", "pct"),
    Column(("avoidance",), "Downtrend avoidance", "pct"),
)
TABLES: dict[str, tuple[str, str, tuple[Column, ...]]] = {
    "headline": ("Headline: the agents against buy-and-hold and the best simple rule",
                 "headline", HEADLINE),
    "periods": ("Periods tested", "periods", PERIODS),
    "verdict": ("Verdict: candidate vs reference", "verdict", VERDICT),
    "aggregates": ("Robust aggregates across runs", "verdict", AGGREGATES),
    "scenarios": ("Per series (means over runs)", "scenarios", SCENARIOS),
    "regimes": ("Per regime (means over runs)", "regimes", REGIMES),
    "upper_bound": ("Upper bound: the hindsight oracle (not a strategy)", "upper_bound",
                    SCENARIOS),
}  # fmt: skip
"""``{table: (heading, report key, columns)}``; the table's records are ``report[key]``."""

EMPTY: dict[str, str] = {
    "headline": "No agent, buy-and-hold or simple rule has rows here.",
    "periods": "Every series is synthetic: its bars have no calendar period to report.",
    "verdict": "No candidate to compare with the reference.",
    "aggregates": "No candidate to compare with the reference.",
    "scenarios": "No rows.",
    "regimes": "No per-regime rows.",
    "upper_bound": "The oracle was not scored on these runs.",
}
"""The line shown instead of a table without rows."""

CAPTIONS: dict[str, str] = {
    "headline": "Means over runs: first over every series, then per series. The best simple "
    "rule is the rule with the best mean Sharpe over these same runs (picked in hindsight, "
    "which favours the rule).",
    "upper_bound": "The oracle holds the best long/flat path in hindsight at the same costs: "
    "no long/flat policy could have done better on these bars. It reads the future, so it "
    "is shown apart, on its own scale, and never compared with the agents.",
}


def tables(report: Mapping[str, Any]) -> dict[str, tuple[str, str, tuple[Column, ...]]]:
    """:data:`TABLES` for this report: the window column only for walk-forward results."""
    if report["settings"].get("walk_forward"):
        return dict(TABLES)
    out = dict(TABLES)
    heading, key, cols = out["periods"]
    out["periods"] = (heading, key, tuple(c for c in cols if c.keys != ("window",)))
    return out


def format_value(value: Any, fmt: str) -> str:
    """One number as shown in both renderings (``None`` -> ``"n/a"``)."""
    if value is None:
        return "n/a"
    if fmt == "text":
        return str(value)
    if fmt == "policy":
        return policy_label(str(value))
    if fmt == "int":
        return f"{int(round(float(value)))}"
    if fmt == "pct":
        return f"{float(value) * 100:.{DECIMALS['pct']}f}%"
    return f"{float(value):.{DECIMALS[fmt]}f}"


def format_cell(record: Mapping[str, Any], col: Column) -> str:
    """A cell: one value, ``a / b`` (counts), ``low .. high`` or ``x [low, high]``."""
    parts = [format_value(record.get(k), col.fmt) for k in col.keys]
    if len(parts) == 1:
        return parts[0]
    if col.fmt == "int":
        return " / ".join(parts)
    if len(parts) == 2:
        return f"[{parts[0]}, {parts[1]}]"
    if parts[1] == "n/a":
        return parts[0]
    return f"{parts[0]} [{parts[1]}, {parts[2]}]"


def markdown_table(records: list[Mapping[str, Any]], columns: tuple[Column, ...]) -> str:
    """A GitHub Markdown table of ``records``."""
    head = "| " + " | ".join(c.label for c in columns) + " |"
    rule = "|" + "|".join("---" if c.fmt in TEXT_FORMATS else "---:" for c in columns) + "|"
    body = ["| " + " | ".join(format_cell(r, c) for c in columns) + " |" for r in records]
    return "\n".join([head, rule, *body])


def _row_class(record: Mapping[str, Any]) -> str:
    return {"better": ' class="good"', "worse": ' class="bad"'}.get(record.get("verdict", ""), "")


def table_html(records: list[Mapping[str, Any]], columns: tuple[Column, ...], cls: str) -> str:
    """An HTML table of ``records`` (the same cells as :func:`markdown_table`)."""
    head = "".join(
        f'<th class="name">{html.escape(c.label)}</th>'
        if c.fmt in TEXT_FORMATS
        else f"<th>{html.escape(c.label)}</th>"
        for c in columns
    )
    rows = []
    for r in records:
        cells = "".join(
            f'<td class="name">{html.escape(format_cell(r, c))}</td>'
            if c.fmt in TEXT_FORMATS
            else f"<td>{html.escape(format_cell(r, c))}</td>"
            for c in columns
        )
        rows.append(f"<tr{_row_class(r)}>{cells}</tr>")
    return html_table(head, rows, cls)


def intro_lines(report: Mapping[str, Any]) -> list[str]:
    """The paragraphs above the tables: what was compared and how to read it (windows are
    mentioned only for walk-forward results)."""
    s = report["settings"]
    wf = bool(s.get("walk_forward"))
    cands = ", ".join(policy_label(c) for c in s["candidates"]) or "none"
    unit = "series x walk-forward window x seed" if wf else "series x seed"
    pair = "(series, window, seed)" if wf else "(series, seed)"
    cell = "(series, window) cell" if wf else "series cell"
    then = ", then windows" if wf else ""
    lines = [
        f"Reference policy: **{policy_label(s['reference'])}**; candidates: **{cands}**; "
        f"{s['n_runs']} runs ({unit}) over {len(s['series'])} series; "
        f"{s['periods_per_year']:.0f} bars per year.",
        "Sharpe ratios are annualised; a difference is candidate minus reference, paired by "
        f"{pair}. The tests' unit is the {cell} with its seeds averaged (seeds share their "
        "test bars, so they are never counted as independent runs): the sign-flip p-value "
        "flips whole series at once (cells within a series when there is one), exact up to "
        f"20 units; the CI is a hierarchical bootstrap ({s['n_boot']} replicates) resampling "
        f"series{then}. Holm's correction runs across the series of each candidate, over the "
        "series whose cells can reach alpha at all; the others read 'untested (too few "
        "cells)'. The all-series row is not in the family. Verdicts use alpha = "
        f"{s['alpha']}.",
        "IQM: interquartile mean of per-run Sharpe with a stratified bootstrap CI (series = "
        "task); P(improvement): chance that a random candidate run beats a random reference "
        "run on the same series (50% = no difference).",
    ]
    if s.get("n_trials"):
        lines.append(
            f"Deflated Sharpe: probability that the candidate's true Sharpe beats the best of "
            f"{s['n_trials']} unskilled trials (Bailey & Lopez de Prado 2014); the trials' "
            f"Sharpe dispersion from: {s['trial_sharpes']}."
        )
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    """The Markdown twin of the verification page (tables only, no figures)."""
    parts = ["# Verification report", *intro_lines(report)]
    for name, (heading, key, columns) in tables(report).items():
        parts.append(f"## {heading}")
        if name in CAPTIONS:
            parts.append(CAPTIONS[name])
        parts.append(markdown_table(report[key], columns) if report[key] else EMPTY[name])
    return "\n\n".join(parts) + "\n"


def _inline_md(text: str) -> str:
    """``**bold**`` to ``<b>`` after escaping."""
    out, bold = [], False
    for i, piece in enumerate(html.escape(text).split("**")):
        if i:
            bold = not bold
            out.append("<b>" if bold else "</b>")
        out.append(piece)
    return "".join(out)


def _section(
    report: Mapping[str, Any], name: str, spec: tuple[str, str, tuple[Column, ...]]
) -> str:
    heading, key, columns = spec
    part = f"<h2>{html.escape(heading)}</h2>\n"
    if name in CAPTIONS:
        part += f'<p class="caption">{html.escape(CAPTIONS[name])}</p>\n'
    if not report[key]:
        return part + f'<p class="omitted">{html.escape(EMPTY[name])}</p>\n'
    return part + table_html(report[key], columns, name) + "\n"


def render_html(
    report: Mapping[str, Any],
    returns: pd.DataFrame,
    prices: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """The verification page: the tables of :func:`render_markdown` plus inline figures, the
    oracle's table and figure last, apart from the strategies."""
    from regime_trader.evaluation.verify_plots import figure_sections, upper_bound_figure

    specs = tables(report)
    body = "".join(f"<p>{_inline_md(line)}</p>\n" for line in intro_lines(report))
    for name, spec in specs.items():
        if name != "upper_bound":
            body += _section(report, name, spec)
    body += figure_sections(report, returns, prices)
    body += _section(report, "upper_bound", specs["upper_bound"])
    body += upper_bound_figure(report)
    return html_page("Verification report", body)
