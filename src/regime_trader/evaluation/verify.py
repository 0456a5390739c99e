"""The verification report: does a candidate policy beat the original, where, and how surely?

`build_verification` turns the tidy results tables (`regime_trader.evaluation.results`) into
one JSON-safe dict of numbers; `write_verification` renders that dict as a self-contained
HTML page (inline CSS and PNGs) and a Markdown twin, beside the JSON it was drawn from. Every
number shown comes from the dict, formatted one way (`verify_tables`), so the three files agree.

Statistics (docs/statistics.md), applied per series (a scenario kind such as ``uptrend`` or
a data source) and over all series. The unit is the (series, window) cell with its seeds
averaged: seeds share a test period, so they are never counted as independent runs.

* mean Sharpe difference over the paired runs (series, window, seed);
* ``paired_cell_test``: exact sign flips of whole series (``p_perm``; of cells within one
  series), the sign flip over cells (``p_cells``) and the t-test over cells (``p_ttest``),
  and a hierarchical bootstrap CI (series, then windows) of the mean cell difference;
* ``series_holm``: Holm across the series of each candidate, over the series whose cells
  can reach alpha at all (the others are "untested (too few cells)");
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

from regime_trader.errors import ConfigError
from regime_trader.evaluation.results import BASELINE_POLICIES, KEYS, read_results
from regime_trader.evaluation.verify_stats import ALL, periods_per_year, verdicts
from regime_trader.evaluation.verify_summary import (
    capture_by_policy,
    headline,
    periods,
    profiles,
    split_upper_bound,
    summaries,
)
from regime_trader.utils.io import atomic_write_json, atomic_write_text

__all__ = ["build_verification", "write_verification"]

AGENT_ORDER = ("original", "enhanced", "ensemble", "calibrated")


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
        raise ConfigError(
            f"reference policy {reference!r} has no rows; policies found: {', '.join(policies)}"
        )
    if candidates is None:
        agents = [p for p in policies if p != reference and p not in BASELINE_POLICIES]
        return sorted(agents, key=lambda p: (AGENT_ORDER + (p,)).index(p))
    unknown = [c for c in candidates if c not in policies]
    if unknown:
        raise ConfigError(
            f"candidate(s) {', '.join(unknown)} have no rows; policies found: {', '.join(policies)}"
        )
    return list(candidates)


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
        ``{"settings", "policies", "headline", "periods", "verdict", "scenarios",
        "regimes", "upper_bound", "capture", "profiles"}``; ``headline`` holds each agent,
        buy-and-hold and the best simple rule (all series, then per series); ``periods``
        the dates of every real test window and stress episode; ``verdict`` has one
        ``"all series"`` row per candidate then one row per series (``scope``), with Sharpe
        means, ``sharpe_diff``, ``ci_low``/``ci_high``, ``p_boot``, ``p_perm``, ``p_holm``,
        IQM and probability of improvement; the oracle's means are in ``upper_bound`` only
        (not in ``scenarios``/``regimes``); ``settings["walk_forward"]`` says whether any
        series was tested on several windows.

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
    verdict, holm_on = verdicts(
        rows, returns, reference, cands, n_trials=n_trials, trial_sharpes=trial_sharpes,
        n_boot=n_boot, seed=seed, alpha=alpha,
    )  # fmt: skip
    scenarios, regimes = summaries(rows, reference, cands)
    scenarios, upper_bound = split_upper_bound(scenarios)
    regimes, _ = split_upper_bound(regimes)
    real = rows[rows["kind"] != "synthetic"]
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
        "periods_per_year": periods_per_year(returns),
        "series": sorted(rows["series"].unique().tolist()),
        "n_runs": int(len(rows[rows["regime"] == "all"][list(KEYS)].drop_duplicates())),
        # walk-forward results test several windows per series; `evaluate`'s test one period
        "walk_forward": bool(len(real) and real.groupby("series")["window"].nunique().max() > 1),
    }
    return _clean(
        {
            "settings": settings,
            "policies": [reference, *cands]
            + [p for p in dict.fromkeys(rows["policy"]) if p not in (reference, *cands)],
            "headline": headline(rows, scenarios, reference, cands, ALL),
            "periods": periods(rows, reference),
            "verdict": verdict,
            "scenarios": scenarios,
            "regimes": regimes,
            "upper_bound": upper_bound,
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
