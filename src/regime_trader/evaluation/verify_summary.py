"""Descriptive tables of the verification report: means over runs per series and per regime,
capture and avoidance per policy, and performance profiles (no tests here; see `verify`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["capture_by_policy", "profiles", "summaries"]

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
    up = rows[rows["regime"] == "uptrend"].groupby("policy")["capture"].mean()
    down = rows[rows["regime"] == "downtrend"].groupby("policy")["avoidance"].mean()
    policies = list(dict.fromkeys(rows["policy"].astype(str)))
    return {p: {"capture": up.get(p), "avoidance": down.get(p)} for p in policies}


def profiles(rows: pd.DataFrame, points: int = 41) -> dict[str, Any]:
    """Performance profiles: share of runs with Sharpe > tau, per policy (rliable style)."""
    top = rows[rows["regime"] == "all"]
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
