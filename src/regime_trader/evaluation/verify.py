"""The verification report: does a candidate policy beat the original, where, and how surely?

`build_verification` turns the tidy results tables (`regime_trader.evaluation.results`) into
one JSON-safe dict of numbers; `write_verification` renders that dict as a self-contained
HTML page (inline CSS and PNGs) and a Markdown twin, beside the JSON it was drawn from. Every
number shown comes from the dict, formatted one way (`verify_tables`), so the three files agree.

Statistics are the existing ones (docs/statistics.md), applied per series (a scenario kind
such as ``uptrend`` or a data source) and pooled over all series:

* mean Sharpe difference over the paired runs (series, window, seed);
* ``sharpe_difference_ci``: paired stationary block bootstrap CI of the Sharpe difference over
  the pooled step returns of the paired runs (runs chained in key order);
* ``paired_permutation_test``: sign-flip p-value of the mean per-run Sharpe difference;
* ``holm_correction`` across the series of each candidate (of the permutation p-values when
  every series has at least 2 paired runs, else of the bootstrap p-values);
* ``iqm_ci`` (IQM of per-run Sharpe, stratified bootstrap, series = task) and
  ``probability_of_improvement`` (candidate > reference on a random series);
* ``deflated_sharpe_ratio`` of the candidate's pooled returns when ``n_trials`` is given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regime_trader.evaluation.metrics import bars_per_year
from regime_trader.evaluation.results import BASELINE_POLICIES, KEYS, read_results
from regime_trader.evaluation.stats import (
    deflated_sharpe_ratio,
    holm_correction,
    iqm_ci,
    paired_columns,
    paired_permutation_test,
    probability_of_improvement,
    sharpe_difference_ci,
)
from regime_trader.evaluation.verify_summary import capture_by_policy, profiles, summaries
from regime_trader.utils.io import atomic_write_json, atomic_write_text

__all__ = ["build_verification", "write_verification"]

AGENT_ORDER = ("original", "enhanced", "ensemble", "calibrated")
ALL = "all series"


def _num(x: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _pick_candidates(rows: pd.DataFrame, reference: str, candidates: Sequence[str] | None) -> list:
    policies = list(dict.fromkeys(rows["policy"].astype(str)))
    if reference not in policies:
        raise ValueError(
            f"reference policy {reference!r} has no rows; policies found: {', '.join(policies)}"
        )
    if candidates is None:
        agents = [p for p in policies if p != reference and p not in BASELINE_POLICIES]
        return sorted(agents, key=lambda p: (AGENT_ORDER + (p,)).index(p))
    unknown = [c for c in candidates if c not in policies]
    if unknown:
        raise ValueError(f"candidate(s) {unknown} have no rows; policies found: {policies}")
    return list(candidates)


def _periods_per_year(returns: pd.DataFrame) -> float:
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


def _compare(
    rows: pd.DataFrame,
    returns: pd.DataFrame,
    cand: str,
    ref: str,
    *,
    ppy: float,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
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
    ra, rb = _pooled(returns, cand, ref)
    rec.update(dict.fromkeys(("ci_low", "ci_high", "p_boot", "pooled_diff", "block_size")))
    if ra.size >= 10:
        ci = sharpe_difference_ci(ra, rb, periods_per_year=ppy, n_boot=n_boot, seed=seed)
        rec.update(ci_low=ci.low, ci_high=ci.high, p_boot=ci.p_value, pooled_diff=ci.diff)
        rec["block_size"] = ci.block_size
    rec["p_perm"] = (
        paired_permutation_test(pairs["a"].to_numpy(), pairs["b"].to_numpy(), seed=seed).p_value
        if len(d) >= 2
        else None
    )
    wide = rows[rows["policy"].isin([cand, ref])].pivot_table(
        index=["window", "seed"], columns=["policy", "series"], values="sharpe", aggfunc="first"
    )
    rec.update(_intervals(pd.DataFrame(wide[cand]), pd.DataFrame(wide[ref]), n_boot, seed))
    return rec


def _verdicts(
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
    ppy = _periods_per_year(returns)
    out: list[dict[str, Any]] = []
    holm_on = "permutation"
    for cand in cands:
        per = []
        for series, sub in top.groupby("series", sort=True):
            rec = _compare(sub, returns[returns["series"] == series], cand, ref, ppy=ppy,
                           n_boot=n_boot, seed=seed)  # fmt: skip
            per.append({"scope": str(series), "kind": str(sub["kind"].iloc[0]), **rec})
        if any(r["p_perm"] is None for r in per):
            holm_on = "bootstrap"
        overall = _compare(top, returns, cand, ref, ppy=ppy, n_boot=n_boot, seed=seed)
        overall = {"scope": ALL, "kind": "all", **overall}
        if n_trials:
            ra, _ = _pooled(returns, cand, ref)
            trials = (
                trial_sharpes
                if trial_sharpes is not None
                else paired_columns(top, "sharpe", cand, ref)["a"]
            )
            overall["dsr"] = deflated_sharpe_ratio(
                ra,
                n_trials=n_trials,
                trial_sharpes=np.asarray(trials, np.float64) if n_trials > 1 else None,
                periods_per_year=ppy,
            )
        out += [overall, *per]
    for cand in cands:
        family = [r for r in out if r["candidate"] == cand and r["scope"] != ALL]
        key = "p_perm" if holm_on == "permutation" else "p_boot"
        ps = {r["scope"]: r[key] for r in family if r[key] is not None}
        adj = holm_correction(ps, alpha=alpha) if ps else None
        for r in out:
            if r["candidate"] != cand:
                continue
            p = r[key] if r["scope"] == ALL else None
            if adj is not None and r["scope"] in adj.index:
                p = float(adj.loc[r["scope"], "p_holm"])
            r["p_holm"] = p
            r["verdict"] = _verdict(r["sharpe_diff"], p, alpha)
    return out, holm_on


def _verdict(diff: float, p: float | None, alpha: float) -> str:
    if p is None:
        return "untested"
    if p >= alpha:
        return "no significant difference"
    return "better" if diff > 0 else "worse"


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _num(obj)
    return obj


def build_verification(
    rows: pd.DataFrame,
    returns: pd.DataFrame,
    *,
    reference: str = "original",
    candidates: Sequence[str] | None = None,
    n_trials: int | None = None,
    trial_sharpes: Sequence[float] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """All numbers of the verification report, JSON-safe (NaN as None).

    Args:
        rows: Tidy results (`RESULT_COLUMNS`), one row per (series, window, seed, policy,
            regime).
        returns: Step returns (`RETURN_COLUMNS`) of the same runs.
        reference: The policy every candidate is compared with.
        candidates: Policies to compare; default every non-baseline policy but ``reference``
            (original, enhanced, ensemble, calibrated order first).
        n_trials: Configurations tried while tuning (adds the deflated Sharpe ratio of each
            candidate's pooled returns).
        trial_sharpes: Annualised Sharpe of every tuning trial, for the dispersion the
            deflated Sharpe needs; without it the candidate's per-run Sharpes stand in
            (conservative: they also vary with the series and window).
        n_boot: Bootstrap replicates of every interval.
        seed: Seed of every bootstrap and Monte Carlo test.
        alpha: Family-wise error rate of the Holm correction and the verdicts.

    Returns:
        ``{"settings", "policies", "verdict", "scenarios", "regimes", "capture",
        "profiles"}``; ``verdict`` has one ``"all series"`` row per candidate then one row
        per series (``scope``), with Sharpe means, ``sharpe_diff``, ``ci_low``/``ci_high``,
        ``p_boot``, ``p_perm``, ``p_holm``, IQM and probability of improvement.

    Raises:
        ValueError: When the reference or a candidate has no rows, or runs are unpaired.

    Examples:
        >>> rows, rets = read_results("runs/walkforward")  # doctest: +SKIP
        >>> v = build_verification(rows, rets, reference="original")  # doctest: +SKIP
        >>> v["verdict"][0]["sharpe_diff"], v["verdict"][0]["p_holm"]  # doctest: +SKIP
    """
    rows = rows.assign(policy=rows["policy"].astype(str), series=rows["series"].astype(str))
    returns = returns.assign(
        policy=returns["policy"].astype(str), series=returns["series"].astype(str)
    )
    cands = _pick_candidates(rows, reference, candidates)
    verdict, holm_on = _verdicts(
        rows, returns, reference, cands, n_trials=n_trials, trial_sharpes=trial_sharpes,
        n_boot=n_boot, seed=seed, alpha=alpha,
    )  # fmt: skip
    scenarios, regimes = summaries(rows, reference, cands)
    settings = {
        "reference": reference,
        "candidates": cands,
        "n_boot": n_boot,
        "confidence": 0.95,
        "seed": seed,
        "alpha": alpha,
        "n_trials": n_trials,
        "trial_sharpes": "given" if trial_sharpes is not None else "candidate runs",
        "holm_on": holm_on,
        "periods_per_year": _periods_per_year(returns),
        "series": sorted(rows["series"].unique().tolist()),
        "n_runs": int(len(rows[rows["regime"] == "all"][list(KEYS)].drop_duplicates())),
    }
    return _clean(
        {
            "settings": settings,
            "policies": [reference, *cands]
            + [p for p in dict.fromkeys(rows["policy"]) if p not in (reference, *cands)],
            "verdict": verdict,
            "scenarios": scenarios,
            "regimes": regimes,
            "capture": capture_by_policy(rows),
            "profiles": profiles(rows),
        }
    )


def write_verification(
    folder_or_tables: str | Path | tuple[pd.DataFrame, pd.DataFrame],
    out_dir: str | Path,
    *,
    reference: str = "original",
    candidates: Sequence[str] | None = None,
    n_trials: int | None = None,
    trial_sharpes: Sequence[float] | None = None,
    prices: Mapping[str, pd.DataFrame] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[Path, Path, Path]:
    """Write ``verification.html``, ``verification.md`` and ``verification.json``.

    Args:
        folder_or_tables: A results folder (``read_results``) or its ``(rows, returns)``.
        out_dir: Output folder (created).
        reference: See :func:`build_verification`.
        candidates: See :func:`build_verification`.
        n_trials: See :func:`build_verification`.
        trial_sharpes: See :func:`build_verification`.
        prices: Optional ``{series: DataFrame(close, regime)}`` indexed by timestamp, for the
            price-by-regime-with-trades figures (skipped for series without one).
        n_boot: See :func:`build_verification`.
        seed: See :func:`build_verification`.

    Returns:
        The paths of the HTML page, the Markdown twin and the JSON.

    Examples:
        >>> write_verification("runs/walkforward", "runs/verify")  # doctest: +SKIP
    """
    from regime_trader.evaluation.verify_tables import render_html, render_markdown

    if isinstance(folder_or_tables, tuple):
        rows, returns = folder_or_tables
    else:
        rows, returns = read_results(folder_or_tables)
    report = build_verification(
        rows, returns, reference=reference, candidates=candidates, n_trials=n_trials,
        trial_sharpes=trial_sharpes, n_boot=n_boot, seed=seed,
    )  # fmt: skip
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = atomic_write_json(out / "verification.json", report)
    md_path = _write_text(out / "verification.md", render_markdown(report))
    html_path = _write_text(out / "verification.html", render_html(report, returns, prices))
    return Path(html_path), Path(md_path), Path(json_path)


def _write_text(path: Path, text: str) -> Path:
    return Path(atomic_write_text(path, text))


def load_verification(path: str | Path) -> dict[str, Any]:
    """The dict of a written ``verification.json``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
