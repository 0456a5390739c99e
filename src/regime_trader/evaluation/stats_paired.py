"""Paired tests whose unit is the (series, window) cell, seeds averaged (docs/statistics.md).

Seeds trained and tested on the same bars are strongly correlated (they share the market
path), so pooling them as if independent, or chaining their returns into one long series,
overstates the evidence. Here the seeds of a cell are averaged first and only cells (or
whole series) are exchanged:

* :func:`cell_frame` -- tidy rows -> one row per (series, window) with ``a``, ``b``,
  ``diff = mean over seeds of (a - b)`` and ``n_seeds``;
* :func:`paired_cell_test` -- sign-flip per series and per cell, t-test over cells and the
  hierarchical bootstrap CI of two policies, one record;
* :func:`series_holm` -- one exact test per series over its windows, Holm across the
  series that can reach ``alpha`` at all (the smallest exact two-sided p with ``n`` cells is
  ``2 / 2**n``), and says which cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from regime_trader.evaluation.stats_cells import (
    MAX_EXACT,
    Alternative,
    RngLike,
    hierarchical_bootstrap_ci,
    min_sign_flip_p,
    sign_flip_test,
    t_test,
)

Unit = Literal["series", "cell"]

__all__ = ["CellTestResult", "cell_frame", "paired_cell_test", "series_holm"]


def cell_frame(
    rows: pd.DataFrame,
    value: str,
    a: str,
    b: str,
    *,
    regime: str | None = "all",
    policy_col: str = "policy",
    cell_keys: Sequence[str] = ("series", "window"),
    seed_col: str = "seed",
) -> pd.DataFrame:
    """Pair two policies by (cell, seed), then average over the seeds of each cell.

    Args:
        rows: Tidy rows (one per policy, series, window, seed[, regime]).
        value: Score column, e.g. ``"sharpe"``.
        a: Policy A; ``diff`` is A minus B.
        b: Policy B.
        regime: Keep rows of this ``regime`` when the column exists (None: no filter).
        policy_col: Column naming the policy.
        cell_keys: Columns that make a cell.
        seed_col: Column of the seed, averaged over.

    Returns:
        Frame indexed by ``cell_keys`` with ``a``, ``b``, ``diff`` and ``n_seeds``.

    Raises:
        ValueError: As :func:`~regime_trader.evaluation.stats.paired_columns` (missing
            columns, duplicates, runs of one policy only).
    """
    from regime_trader.evaluation.stats import paired_columns  # stats re-exports this module

    if regime is not None and "regime" in rows.columns:
        rows = rows[rows["regime"] == regime]
    pairs = paired_columns(
        rows, value, a, b, policy_col=policy_col, keys=(*cell_keys, seed_col)
    ).reset_index()
    pairs["diff"] = pairs["a"] - pairs["b"]
    cells = pairs.groupby(list(cell_keys), sort=True).agg(
        a=("a", "mean"), b=("b", "mean"), diff=("diff", "mean"), n_seeds=("diff", "size")
    )
    return cells


@dataclass(frozen=True)
class CellTestResult:
    """Result of :func:`paired_cell_test`: ``p_value`` is the test of ``unit``."""

    statistic: float  # mean over cells of the seed-averaged difference a - b
    n_cells: int
    n_series: int
    n_runs: int  # (cell, seed) pairs averaged into the cells
    unit: str
    p_value: float
    exact: bool
    min_p: float
    can_reach_alpha: bool
    p_cells: float  # sign flip over cells (independent cells)
    p_series: float | None  # sign flip per series (None with one series)
    t_stat: float
    p_ttest: float  # t-test over cells
    df: int
    ci_low: float | None  # hierarchical bootstrap (None with one series)
    ci_high: float | None
    p_boot: float | None
    wins: int  # cells where a > b
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)


def paired_cell_test(
    rows: pd.DataFrame,
    value: str,
    a: str,
    b: str,
    *,
    unit: Unit = "series",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
    regime: str | None = "all",
    max_exact: int = MAX_EXACT,
    n_resamples: int = 20_000,
    n_boot: int = 2000,
    rng: RngLike = None,
) -> CellTestResult:
    """Does A beat B? Seeds averaged per (series, window) cell, then cell-level tests.

    ``unit="series"`` (default) flips the sign of a whole series at once: exact even when the
    windows of one series share an edge (measured type-I error 5.1% where the cell-level flip
    gives 10.0%, docs/statistics.md); ``unit="cell"`` treats cells as independent (more
    power, needs independent windows). Both p-values, the t-test over cells and the
    hierarchical bootstrap CI are in the record either way.

    Args:
        rows: Tidy evaluation rows of both policies.
        value: Score column (``"sharpe"``).
        a: Candidate policy.
        b: Reference policy.
        unit: Exchangeable unit of ``p_value``: ``"series"`` or ``"cell"``.
        alternative: ``"greater"`` tests A > B.
        alpha: Level for ``can_reach_alpha``.
        regime: Rows of this regime only (None: no filter).
        max_exact: Largest number of units enumerated exactly.
        n_resamples: Monte Carlo sign patterns above ``max_exact``.
        n_boot: Hierarchical bootstrap replicates.
        rng: Generator or seed (Monte Carlo and bootstrap).

    Returns:
        A :class:`CellTestResult`.

    Raises:
        ValueError: With fewer than 2 cells, or ``unit="series"`` with one series.
    """
    if unit not in ("series", "cell"):
        raise ValueError(f"unit must be 'series' or 'cell', got {unit!r}")
    cells = cell_frame(rows, value, a, b, regime=regime)
    d = cells["diff"].to_numpy(np.float64)
    series = cells.index.get_level_values(0).to_numpy()
    n_series = len(pd.unique(series))
    if unit == "series" and n_series < 2:
        raise ValueError(f"unit='series' needs at least 2 series, got {n_series}; use unit='cell'")
    gen = np.random.default_rng(rng)
    by_cell = sign_flip_test(
        d, alternative=alternative, max_exact=max_exact, n_resamples=n_resamples, rng=gen
    )
    by_series = (
        sign_flip_test(
            d,
            clusters=series,
            alternative=alternative,
            max_exact=max_exact,
            n_resamples=n_resamples,
            rng=gen,
        )
        if n_series >= 2
        else None
    )
    main = by_series if unit == "series" and by_series is not None else by_cell
    tt = t_test(d, alternative=alternative)
    ci = hierarchical_bootstrap_ci(d, series, n_boot=n_boot, rng=gen) if n_series >= 2 else None
    reach = main.min_p <= alpha
    units = "series" if main is by_series else "cells"
    note = f"{main.n_units} {units}: the smallest possible p is {main.min_p:.3g}" + (
        "" if reach else f", so no result can reach alpha={alpha}"
    )
    return CellTestResult(
        statistic=float(d.mean()),
        n_cells=int(d.size),
        n_series=n_series,
        n_runs=int(cells["n_seeds"].sum()),
        unit=unit,
        p_value=main.p_value,
        exact=main.exact,
        min_p=main.min_p,
        can_reach_alpha=bool(reach),
        p_cells=by_cell.p_value,
        p_series=None if by_series is None else by_series.p_value,
        t_stat=tt.statistic,
        p_ttest=tt.p_value,
        df=tt.df,
        ci_low=None if ci is None else ci.low,
        ci_high=None if ci is None else ci.high,
        p_boot=None if ci is None else ci.p_value,
        wins=int((d > 0).sum()),
        note=note,
    )


def _tarone_family(min_p: np.ndarray, alpha: float) -> np.ndarray:
    """Tests kept in the family: the fewest ``k`` with ``#{min_p <= alpha / k} <= k``
    (Tarone 1990). Depends on the design only, never on the data, so Holm over the kept
    tests controls the family-wise error over all of them."""
    for k in range(1, min_p.size + 1):
        keep = min_p <= alpha / k
        if keep.sum() <= k:
            return keep
    return np.zeros(min_p.size, dtype=bool)  # pragma: no cover - k = size always stops


def series_holm(
    rows: pd.DataFrame,
    value: str,
    a: str,
    b: str,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    regime: str | None = "all",
    max_exact: int = MAX_EXACT,
    n_resamples: int = 20_000,
    rng: RngLike = None,
) -> pd.DataFrame:
    """Per series: exact sign-flip over its cells (windows, seeds averaged); Holm across
    the series that can reach ``alpha``.

    A series with ``n`` cells cannot give a two-sided p below ``2 / 2**n`` (0.5 with 2
    windows). Such series are left out of the Holm family (Tarone's rule: the family is
    chosen from the design alone), are never rejected, and say so in ``note``.

    Args:
        rows: Tidy evaluation rows of both policies.
        value: Score column.
        a: Candidate policy.
        b: Reference policy.
        alpha: Family-wise error rate.
        alternative: As in :func:`sign_flip_test`.
        regime: Rows of this regime only.
        max_exact: Largest number of cells enumerated exactly.
        n_resamples: Monte Carlo patterns above it.
        rng: Generator or seed.

    Returns:
        Frame indexed by series: ``n_cells``, ``mean_diff``, ``p_value`` (NaN with one
        cell), ``min_p``, ``in_family``, ``p_holm`` (NaN outside the family), ``reject``,
        ``note``; ``attrs["note"]`` summarises the family.
    """
    cells = cell_frame(rows, value, a, b, regime=regime).reset_index()
    key = cells.columns[0]
    gen = np.random.default_rng(rng)
    recs = []
    for name, sub in cells.groupby(key, sort=True):  # one test per series, not per bar
        d = sub["diff"].to_numpy(np.float64)
        p = (
            sign_flip_test(
                d, alternative=alternative, max_exact=max_exact, n_resamples=n_resamples, rng=gen
            ).p_value
            if d.size >= 2
            else float("nan")
        )
        min_p = min_sign_flip_p(d.size, alternative) if d.size >= 2 else 1.0
        recs.append(
            {
                key: name,
                "n_cells": d.size,
                "mean_diff": float(d.mean()),
                "p_value": p,
                "min_p": min_p,
            }
        )
    out = pd.DataFrame(recs).set_index(key)
    fam = _tarone_family(out["min_p"].to_numpy(), alpha) & out["p_value"].notna().to_numpy()
    out["in_family"] = fam
    out["p_holm"] = np.nan
    out["reject"] = False
    if fam.any():
        rej, adj, _, _ = multipletests(out.loc[fam, "p_value"].to_numpy(), alpha, "holm")
        out.loc[fam, "p_holm"], out.loc[fam, "reject"] = adj, rej
    out["note"] = [
        ""
        if f
        else f"{n} cell(s): smallest p {mp:.3g}, cannot reach alpha={alpha} in a "
        f"family of {max(int(fam.sum()), 1)}; not tested"
        for f, n, mp in zip(fam, out["n_cells"], out["min_p"], strict=True)
    ]
    out.attrs["note"] = f"Holm over {int(fam.sum())} of {len(out)} series" + (
        "" if fam.all() else "; the others have too few cells to reach alpha"
    )
    return out
