"""The statistics of the verification report: paired tests over (series, window) cells
with seeds averaged, Holm across series, the deflated Sharpe (docs/statistics.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from regime_trader.evaluation.results import KEYS
from regime_trader.evaluation.stats import (
    deflated_sharpe_ratio,
    iqm_ci,
    paired_columns,
    probability_of_improvement,
)
from regime_trader.evaluation.stats_paired import paired_cell_test, series_holm
from regime_trader.policy.metrics import bars_per_year

ALL = "all series"


def periods_per_year(returns: pd.DataFrame) -> float:
    """Bars per year from the first run's timestamps; 252 when they are not dates."""
    if returns.empty:
        return 252.0
    first = returns.iloc[0]
    run = returns[(returns[list(KEYS)] == first[list(KEYS)]).all(axis=1)]
    run = run[run["policy"] == first["policy"]]
    stamps = pd.to_datetime(run["timestamp"], errors="coerce", utc=True).dropna()
    try:
        return bars_per_year(pd.DatetimeIndex(stamps.sort_values()))
    except ValueError:
        return 252.0


def _pooled(returns: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Step returns of ``a`` and ``b`` on the same (series, window, seed, step), chained."""
    cols = [*KEYS, "step"]
    ra = returns[returns["policy"] == a][[*cols, "ret"]]
    rb = returns[returns["policy"] == b][[*cols, "ret"]]
    both = ra.merge(rb, on=cols, suffixes=("_a", "_b")).sort_values(cols)
    return both["ret_a"].to_numpy(np.float64), both["ret_b"].to_numpy(np.float64)


def _intervals(sa: pd.DataFrame, sb: pd.DataFrame, n_boot: int, seed: int) -> dict[str, Any]:
    """IQM CI of each policy and P(a > b), runs x series matrices (complete runs only)."""
    out: dict[str, Any] = dict.fromkeys(
        ("iqm", "iqm_low", "iqm_high", "iqm_reference", "poi", "poi_low", "poi_high")
    )
    wa, wb = sa.dropna(), sb.dropna()
    if len(wa) < 3 or len(wb) < 3:
        return out
    ia = iqm_ci(wa.to_numpy(), n_boot=n_boot, seed=seed)
    ib = iqm_ci(wb.to_numpy(), n_boot=n_boot, seed=seed)
    poi = probability_of_improvement(wa.to_numpy(), wb.to_numpy(), n_boot=n_boot, seed=seed)
    out.update(iqm=ia.point, iqm_low=ia.low, iqm_high=ia.high, iqm_reference=ib.point)
    out.update(poi=poi.point, poi_low=poi.low, poi_high=poi.high)
    return out


def _cell_test(rows: pd.DataFrame, cand: str, ref: str, n_boot: int, seed: int) -> dict[str, Any]:
    """The paired test over (series, window) cells with seeds averaged: sign flips of whole
    series when there are several (exact; windows of a series may share an edge), of cells
    within one series; the t-test over cells and the hierarchical bootstrap CI beside."""
    n_series = rows["series"].nunique()
    out: dict[str, Any] = dict.fromkeys(
        ("p_perm", "p_cells", "p_ttest", "ci_low", "ci_high", "p_boot", "n_cells", "test_unit")
    )
    out.update(test_note="", can_reach_alpha=None)
    try:
        t = paired_cell_test(
            rows,
            "sharpe",
            cand,
            ref,
            unit="series" if n_series >= 2 else "cell",
            regime=None,
            n_boot=n_boot,
            rng=seed,
        )
    except ValueError as exc:  # one cell: nothing to test
        out["test_note"] = str(exc)
        return out
    out.update(p_perm=t.p_value, p_cells=t.p_cells, p_ttest=t.p_ttest, ci_low=t.ci_low)
    out.update(ci_high=t.ci_high, p_boot=t.p_boot, n_cells=t.n_cells, test_unit=t.unit)
    out.update(test_note=t.note, can_reach_alpha=t.can_reach_alpha)
    return out


def _compare(rows: pd.DataFrame, cand: str, ref: str, *, n_boot: int, seed: int) -> dict[str, Any]:
    """One verdict row: candidate vs reference over the runs of ``rows`` (regime 'all')."""
    pairs = paired_columns(rows, "sharpe", cand, ref)
    d = (pairs["a"] - pairs["b"]).to_numpy()
    rec: dict[str, Any] = {
        "candidate": cand,
        "reference": ref,
        "n_runs": len(pairs),
        "sharpe_candidate": float(pairs["a"].mean()),
        "sharpe_reference": float(pairs["b"].mean()),
        "sharpe_diff": float(d.mean()),
        "wins": int((d > 0).sum()),
        "dsr": None,
    }
    rec.update(_cell_test(rows, cand, ref, n_boot, seed))
    wide = rows[rows["policy"].isin([cand, ref])].pivot_table(
        index=["window", "seed"], columns=["policy", "series"], values="sharpe", aggfunc="first"
    )
    rec.update(_intervals(pd.DataFrame(wide[cand]), pd.DataFrame(wide[ref]), n_boot, seed))
    return rec


def _dsr(
    returns: pd.DataFrame,
    top: pd.DataFrame,
    cand: str,
    ref: str,
    n_trials: int,
    trial_sharpes: Sequence[float] | None,
    ppy: float,
) -> float | None:
    """Deflated Sharpe of the candidate's returns (None when it never traded: no variance)."""
    ra, _ = _pooled(returns, cand, ref)
    trials = (
        trial_sharpes
        if trial_sharpes is not None
        else paired_columns(top, "sharpe", cand, ref)["a"]
    )
    try:
        return deflated_sharpe_ratio(
            ra,
            n_trials=n_trials,
            trial_sharpes=np.asarray(trials, np.float64) if n_trials > 1 else None,
            periods_per_year=ppy,
        )
    except ValueError:  # a policy that never trades, or too few returns
        return None


def verdicts(
    rows: pd.DataFrame,
    returns: pd.DataFrame,
    ref: str,
    cands: list[str],
    *,
    n_trials: int | None,
    trial_sharpes: Sequence[float] | None,
    n_boot: int,
    seed: int,
    alpha: float,
) -> tuple[list[dict[str, Any]], str]:
    top = rows[rows["regime"] == "all"]
    ppy = periods_per_year(returns)
    out: list[dict[str, Any]] = []
    for cand in cands:
        overall = {
            "scope": ALL,
            "kind": "all",
            **_compare(top, cand, ref, n_boot=n_boot, seed=seed),
        }
        if n_trials:
            overall["dsr"] = _dsr(returns, top, cand, ref, n_trials, trial_sharpes, ppy)
        overall["p_holm"] = overall["p_perm"]
        overall["verdict"] = _verdict(overall["sharpe_diff"], overall["p_perm"], alpha)
        holm = series_holm(top, "sharpe", cand, ref, alpha=alpha, rng=seed)
        per = []
        for series, sub in top.groupby("series", sort=True):
            rec: dict[str, Any] = {"scope": str(series), "kind": str(sub["kind"].iloc[0])}
            rec |= _compare(sub, cand, ref, n_boot=n_boot, seed=seed)
            h = holm.loc[series] if series in holm.index else None
            in_family = h is not None and bool(h["in_family"])
            p_holm = _num(holm["p_holm"].get(series)) if in_family else None
            rec["p_holm"] = p_holm
            rec["verdict"] = (
                _verdict(float(rec["sharpe_diff"]), p_holm, alpha)
                if in_family
                else "untested (too few cells)"
            )
            rec["holm_note"] = "" if h is None else str(h["note"])
            per.append(rec)
        out += [overall, *per]
    return out, "series sign-flip, seeds averaged"


def _verdict(diff: float, p: float | None, alpha: float) -> str:
    if p is None:
        return "untested"
    if p >= alpha:
        return "no significant difference"
    return "better" if diff > 0 else "worse"


def _num(x: object) -> float | None:
    """A finite float, or None."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
