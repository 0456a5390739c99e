"""Descriptive tables of the verification report: the headline (candidates against
buy-and-hold and the best simple rule), the periods tested, means over runs per series and
per regime, the oracle apart, capture and avoidance per policy, and performance profiles
(no tests here; see `verify`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from regime_trader.evaluation.report_sections import (
    BENCHMARK,
    SIMPLE_RULES,
    UPPER_BOUND,
    is_agent,
)
from regime_trader.evaluation.strong_baselines import STRONG_BASELINES, best_simple_rule
from regime_trader.utils.dates import format_stamp

__all__ = [
    "capture_by_policy",
    "headline",
    "periods",
    "pick_rule",
    "profiles",
    "split_upper_bound",
    "summaries",
]

HEADLINE_METRICS = ("total_return", "sharpe", "max_drawdown", "num_trades")

SUMMARY_METRICS = ("total_return", "sharpe", "max_drawdown", "exposure", "num_trades")
REGIME_METRICS = ("total_return", "sharpe", "exposure")


def _policy_rank(rows: pd.DataFrame, ref: str, cands: list[str]) -> pd.DataFrame:
    """``rows`` with a ``_rank`` column: reference first, then the candidates, then the rest."""
    first = [ref, *cands]
    rest = [p for p in dict.fromkeys(rows["policy"]) if p not in first]
    rank = {p: i for i, p in enumerate([*first, *rest])}
    return rows.assign(_rank=rows["policy"].map(rank))


def summaries(
    rows: pd.DataFrame, ref: str, cands: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Mean over runs per (series, policy) and per (kind, regime, policy)."""
    rows = _policy_rank(rows, ref, cands)
    top = rows[rows["regime"] == "all"]
    up = rows[rows["regime"] == "uptrend"].groupby(["series", "policy"])["capture"].mean()
    down = rows[rows["regime"] == "downtrend"].groupby(["series", "policy"])["avoidance"].mean()
    scen = []
    for (series, _, policy), g in top.groupby(["series", "_rank", "policy"], sort=True):
        rec: dict[str, Any] = {"series": str(series), "kind": str(g["kind"].iloc[0])}
        rec["policy"] = str(policy)
        rec["n_runs"] = len(g)
        rec.update({m: g[m].mean() for m in SUMMARY_METRICS})
        rec["capture"] = up.get((series, policy))
        rec["avoidance"] = down.get((series, policy))
        scen.append(rec)
    reg = []
    for (kind, regime, _, policy), g in rows[rows["regime"] != "all"].groupby(
        ["kind", "regime", "_rank", "policy"], sort=True
    ):
        rec = {"kind": str(kind), "regime": str(regime), "policy": str(policy)}
        rec["n_runs"] = len(g)
        rec.update({m: g[m].mean() for m in REGIME_METRICS})
        rec["capture"] = g["capture"].mean() if regime == "uptrend" else None
        rec["avoidance"] = g["avoidance"].mean() if regime == "downtrend" else None
        reg.append(rec)
    return scen, reg


def capture_by_policy(rows: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Mean uptrend capture and downtrend avoidance of each policy over its runs."""
    up = rows[rows["regime"] == "uptrend"].groupby("policy")["capture"].mean()
    down = rows[rows["regime"] == "downtrend"].groupby("policy")["avoidance"].mean()
    policies = list(dict.fromkeys(rows["policy"].astype(str)))
    return {p: {"capture": up.get(p), "avoidance": down.get(p)} for p in policies}


def profiles(rows: pd.DataFrame, points: int = 41) -> dict[str, Any]:
    """Performance profiles: share of runs with Sharpe > tau, per policy (rliable style);
    the oracle is left out (its Sharpe would stretch the tau axis)."""
    top = rows[(rows["regime"] == "all") & (rows["policy"] != UPPER_BOUND)]
    s = top["sharpe"].astype(float)
    s = s[np.isfinite(s)]
    if s.empty:
        return {"tau": [], "fraction": {}}
    lo, hi = float(s.min()), float(s.max())
    tau = np.linspace(lo - 0.05 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9), points)
    frac = {}
    for policy, g in top.groupby("policy", sort=False):
        v = g["sharpe"].to_numpy(np.float64)
        frac[str(policy)] = [float(np.mean(v > t)) for t in tau]
    return {"tau": tau.tolist(), "fraction": frac}


def pick_rule(rows: pd.DataFrame) -> str | None:
    """The best simple rule of these rows by mean Sharpe over the (series, window) cells
    (seeds averaged first): `best_simple_rule` among the strong rules, then the SMA
    crossover if it scores higher; None without any rule."""
    top = rows[(rows["regime"] == "all") & rows["policy"].isin(SIMPLE_RULES)]
    if top.empty:
        return None
    picks = [best_simple_rule(top)] if top["policy"].isin(list(STRONG_BASELINES)).any() else []
    picks += [r for r in SIMPLE_RULES if r in set(top["policy"]) and r not in STRONG_BASELINES]
    cells = top.groupby(["policy", "series", "window"])["sharpe"].mean()
    score = cells.groupby(level="policy").mean()
    return max(picks, key=lambda r: (float(score[r]), -SIMPLE_RULES.index(r)))


def headline(
    rows: pd.DataFrame, scenarios: list[dict[str, Any]], ref: str, cands: list[str], scope: str
) -> list[dict[str, Any]]:
    """Each agent, buy-and-hold and the best simple rule: means over every run (``scope``),
    then per series (the ``scenarios`` records)."""
    rule = pick_rule(rows)
    roles = [("agent", p) for p in dict.fromkeys([*cands, ref]) if is_agent(p)]
    roles.append(("buy-and-hold", BENCHMARK))
    if rule is not None:
        roles.append(("best simple rule", rule))
    top = rows[rows["regime"] == "all"]
    overall = (
        top.groupby("policy")[list(HEADLINE_METRICS)]
        .mean()
        .assign(n_runs=top.groupby("policy").size())
    )
    records = {str(p): {str(k): v for k, v in r.items()} for p, r in overall.iterrows()}
    by_key = {(str(r["series"]), str(r["policy"])): r for r in scenarios}
    out: list[dict[str, Any]] = []
    for series in [scope, *dict.fromkeys(str(r["series"]) for r in scenarios)]:
        for role, policy in roles:
            found = records.get(policy) if series == scope else by_key.get((series, policy))
            if found is not None:
                keep = {k: found[k] for k in ("n_runs", *HEADLINE_METRICS)}
                keep["n_runs"] = int(keep["n_runs"])
                out.append({"series": series, "role": role, "policy": policy, **keep})
    return out


def periods(rows: pd.DataFrame, ref: str) -> list[dict[str, Any]]:
    """First and last decision of every calendar period tested (real test windows and
    stress episodes; synthetic bars have no calendar), with buy-and-hold's return there."""
    top = rows[(rows["regime"] == "all") & (rows["kind"] != "synthetic")]
    own = top[top["policy"] == ref].drop_duplicates(["series", "kind", "window", "start", "end"])
    bench = top[top["policy"] == BENCHMARK].groupby(["series", "window"])["total_return"].mean()
    out = []
    for r in own.sort_values(["series", "window"]).to_dict("records"):
        out.append(
            {
                "series": str(r["series"]),
                "kind": str(r["kind"]),
                "window": int(r["window"]),
                "start": format_stamp(str(r["start"])) if r["start"] else None,
                "end": format_stamp(str(r["end"])) if r["end"] else None,
                "bars": int(r["bars"]),
                "buy_and_hold": bench.get((r["series"], r["window"])),
            }
        )
    return out


def split_upper_bound(
    records: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``records`` without the oracle's, and the oracle's (shown apart, an upper bound)."""
    return (
        [r for r in records if r["policy"] != UPPER_BOUND],
        [r for r in records if r["policy"] == UPPER_BOUND],
    )
