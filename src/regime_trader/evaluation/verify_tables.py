"""Tables of the verification report, rendered as Markdown and as a self-contained HTML page.

Both renderings format the numbers of one `build_verification` dict through the same column
specs (:data:`TABLES`), so the Markdown, the HTML and the JSON agree digit for digit.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from regime_trader.evaluation.report import html_page, html_table


class Column(NamedTuple):
    """One column: the record keys shown in its cells, its heading and number format."""

    keys: tuple[str, ...]
    label: str
    fmt: str  # "text", "int", "num" (3 decimals), "num1" (1 decimal), "pct" (x100, 1 decimal,
    # with %), "p" (4 decimals)


DECIMALS = {"num": 3, "pct": 1, "p": 4, "num1": 1}

VERDICT = (
    Column(("candidate",), "Candidate", "text"),
    Column(("scope",), "Series", "text"),
    Column(("n_runs",), "Runs", "int"),
    Column(("sharpe_candidate",), "Sharpe, candidate", "num"),
    Column(("sharpe_reference",), "Sharpe, reference", "num"),
    Column(("sharpe_diff",), "Mean Sharpe diff.", "num"),
    Column(("ci_low", "ci_high"), "95% CI, Sharpe diff. of pooled returns", "num"),
    Column(("p_boot",), "p, bootstrap", "p"),
    Column(("p_perm",), "p, sign-flip", "p"),
    Column(("p_holm",), "p, Holm", "p"),
    Column(("verdict",), "Verdict", "text"),
)
AGGREGATES = (
    Column(("candidate",), "Candidate", "text"),
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
    Column(("policy",), "Policy", "text"),
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
    Column(("policy",), "Policy", "text"),
    Column(("n_runs",), "Runs", "int"),
    Column(("total_return",), "Return in regime", "pct"),
    Column(("sharpe",), "Sharpe (ann.)", "num"),
    Column(("exposure",), "Exposure", "pct"),
    Column(("capture",), "Uptrend capture", "pct"),
    Column(("avoidance",), "Downtrend avoidance", "pct"),
)
TABLES: dict[str, tuple[str, str, tuple[Column, ...]]] = {
    "verdict": ("Verdict: candidate vs reference", "verdict", VERDICT),
    "aggregates": ("Robust aggregates across runs", "verdict", AGGREGATES),
    "scenarios": ("Per series (means over runs)", "scenarios", SCENARIOS),
    "regimes": ("Per regime (means over runs)", "regimes", REGIMES),
}
"""``{table: (heading, report key, columns)}``; the table's records are ``report[key]``."""


def format_value(value: Any, fmt: str) -> str:
    """One number as shown in both renderings (``None`` -> ``"n/a"``)."""
    if value is None:
        return "n/a"
    if fmt == "text":
        return str(value)
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
    rule = "|" + "|".join("---" if c.fmt == "text" else "---:" for c in columns) + "|"
    body = ["| " + " | ".join(format_cell(r, c) for c in columns) + " |" for r in records]
    return "\n".join([head, rule, *body])


def _row_class(record: Mapping[str, Any]) -> str:
    return {"better": ' class="good"', "worse": ' class="bad"'}.get(record.get("verdict", ""), "")


def table_html(records: list[Mapping[str, Any]], columns: tuple[Column, ...], cls: str) -> str:
    """An HTML table of ``records`` (the same cells as :func:`markdown_table`)."""
    head = "".join(
        f'<th class="name">{html.escape(c.label)}</th>'
        if c.fmt == "text"
        else f"<th>{html.escape(c.label)}</th>"
        for c in columns
    )
    rows = []
    for r in records:
        cells = "".join(
            f'<td class="name">{html.escape(format_cell(r, c))}</td>'
            if c.fmt == "text"
            else f"<td>{html.escape(format_cell(r, c))}</td>"
            for c in columns
        )
        rows.append(f"<tr{_row_class(r)}>{cells}</tr>")
    return html_table(head, rows, cls)


def intro_lines(report: Mapping[str, Any]) -> list[str]:
    """The paragraphs above the tables: what was compared and how to read it."""
    s = report["settings"]
    cands = ", ".join(s["candidates"]) or "none"
    lines = [
        f"Reference policy: **{s['reference']}**; candidates: **{cands}**; "
        f"{s['n_runs']} runs (series x window x seed) over {len(s['series'])} series; "
        f"{s['periods_per_year']:.0f} bars per year.",
        "Sharpe ratios are annualised; a difference is candidate minus reference, paired by "
        "(series, window, seed). The CI is a paired stationary block bootstrap "
        f"({s['n_boot']} replicates) over the pooled step returns of the paired runs; the "
        "sign-flip p-value tests the mean per-run difference; Holm's correction runs across "
        f"the series of each candidate (on the {s['holm_on']} p-values; the all-series row is "
        f"not in the family). Verdicts use alpha = {s['alpha']}.",
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
    for heading, key, columns in TABLES.values():
        parts += [f"## {heading}", markdown_table(report[key], columns)]
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


def render_html(
    report: Mapping[str, Any],
    returns: pd.DataFrame,
    prices: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """The verification page: the tables of :func:`render_markdown` plus inline figures."""
    from regime_trader.evaluation.verify_plots import figure_sections

    body = "".join(f"<p>{_inline_md(line)}</p>\n" for line in intro_lines(report))
    for name, (heading, key, columns) in TABLES.items():
        body += f"<h2>{html.escape(heading)}</h2>\n{table_html(report[key], columns, name)}\n"
    body += figure_sections(report, returns, prices)
    return html_page("Verification report", body)
