"""Significance statistics for comparing trading policies (docs/statistics.md).

Pure functions over arrays (and one helper over the tidy evaluation rows), built on well-kept
libraries: arch's stationary block bootstrap, scipy and statsmodels' ``multipletests``.

* :func:`annualised_sharpe` -- ``mean / std(ddof=1) * sqrt(periods_per_year)``, as
  :func:`regime_trader.policy.metrics.compute_metrics` computes it;
* :func:`sharpe_difference_ci` -- paired stationary block bootstrap CI of ``SR(a) - SR(b)`` on
  two return series over the same bars (time-series dependence kept; Ledoit & Wolf 2008);
* :func:`paired_permutation_test` -- sign-flip test on paired per-run scores (exact or seeded
  Monte Carlo);
* :func:`probabilistic_sharpe_ratio` / :func:`deflated_sharpe_ratio` -- Bailey & López de
  Prado (2012, 2014): the probability that the true Sharpe exceeds a benchmark, the benchmark
  being the expected maximum Sharpe of ``n_trials`` unskilled trials for the deflated one
  (in :mod:`regime_trader.evaluation.stats_sharpe`, re-exported here);
* :func:`holm_correction` -- Holm's step-down adjustment across scenarios;
* IQM, stratified bootstrap CIs and probability of improvement live in
  :mod:`regime_trader.evaluation.stats_rl` and are re-exported here.

Every random source takes a seed or a ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from arch.bootstrap import StationaryBootstrap, optimal_block_length
from statsmodels.stats.multitest import multipletests

from regime_trader.evaluation.stats_cells import (
    _check_alternative,
    _exact_hits,
    _mc_hits,
    hierarchical_bootstrap_ci,
    sign_flip_test,
    t_test,
)
from regime_trader.evaluation.stats_paired import (
    CellTestResult,
    cell_frame,
    paired_cell_test,
    series_holm,
)
from regime_trader.evaluation.stats_rl import (
    IntervalEstimate,
    iqm,
    iqm_ci,
    probability_of_improvement,
    stratified_bootstrap_ci,
)
from regime_trader.evaluation.stats_sharpe import (
    _EPS,
    _series,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    psr_from_moments,
)

SeedLike = int | np.random.Generator | None
Alternative = Literal["two-sided", "greater", "less"]

__all__ = [
    "CellTestResult",
    "IntervalEstimate",
    "PermutationResult",
    "SharpeDiffCI",
    "annualised_sharpe",
    "cell_frame",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "hierarchical_bootstrap_ci",
    "holm_correction",
    "iqm",
    "iqm_ci",
    "paired_cell_test",
    "paired_columns",
    "paired_permutation_test",
    "probabilistic_sharpe_ratio",
    "probability_of_improvement",
    "psr_from_moments",
    "series_holm",
    "sharpe_difference_ci",
    "sign_flip_test",
    "stratified_bootstrap_ci",
    "t_test",
]


def annualised_sharpe(
    returns: np.ndarray | Sequence[float], periods_per_year: float = 252.0, axis: int = -1
) -> float | np.ndarray:
    """Annualised Sharpe ratio ``mean(r) / std(r, ddof=1) * sqrt(periods_per_year)``.

    Zero risk-free rate; 0.0 where the standard deviation is ~0 (a flat strategy).

    Args:
        returns: Per-period simple returns; any shape, reduced along ``axis``.
        periods_per_year: Bars per year (252 daily, ~6200 hourly FX).
        axis: Axis of time.

    Returns:
        A float for 1-D input, else an array with ``axis`` removed.

    Raises:
        ValueError: With fewer than 2 returns along ``axis`` or a non-positive frequency.
    """
    r = np.asarray(returns, dtype=np.float64)
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    if r.shape[axis] < 2:
        raise ValueError(f"a Sharpe ratio needs at least 2 returns, got {r.shape[axis]}")
    mean = r.mean(axis=axis)
    std = r.std(axis=axis, ddof=1)
    safe = np.where(std > _EPS, std, 1.0)
    sr = np.where(std > _EPS, mean / safe * np.sqrt(periods_per_year), 0.0)
    return float(sr) if sr.ndim == 0 else sr


@dataclass(frozen=True)
class SharpeDiffCI:
    """Result of :func:`sharpe_difference_ci` (annualised Sharpe units)."""

    diff: float
    low: float
    high: float
    p_value: float
    block_size: float
    n_boot: int
    confidence: float


def sharpe_difference_ci(
    a: np.ndarray | Sequence[float],
    b: np.ndarray | Sequence[float],
    *,
    periods_per_year: float = 252.0,
    n_boot: int = 2000,
    confidence: float = 0.95,
    block_size: float | None = None,
    seed: SeedLike = None,
    chunk: int = 256,
) -> SharpeDiffCI:
    """Paired stationary block bootstrap CI of ``Sharpe(a) - Sharpe(b)``.

    Both series are resampled with the *same* indices (Politis & Romano 1994 stationary
    bootstrap via ``arch.bootstrap.StationaryBootstrap``), which keeps their correlation and
    the serial dependence of each (Ledoit & Wolf 2008). The CI is the percentile interval of
    the bootstrap differences; the two-sided p-value of ``H0: diff = 0`` inverts it,
    ``(1 + 2 min(#{d* <= 0}, #{d* >= 0})) / (1 + n_boot)``, so ``p < 1 - confidence``
    exactly when the interval excludes 0 (up to the add-one correction).

    Args:
        a: Per-bar returns of policy A.
        b: Per-bar returns of policy B over the same bars.
        periods_per_year: Bars per year for annualising.
        n_boot: Bootstrap replicates.
        confidence: Coverage of the interval, in (0, 1).
        block_size: Expected block length in bars; default: the largest Politis-White
            (2004) optimal length over ``a, b, a**2, b**2`` (``arch.bootstrap.optimal_block_length``),
            at least 1.
        seed: Seed or Generator of the bootstrap.
        chunk: Replicates evaluated at once (memory ``chunk x len(a)``).

    Returns:
        A :class:`SharpeDiffCI`.

    Raises:
        ValueError: On series of different lengths, under 10 bars, non-finite values, or
            bad ``n_boot`` / ``confidence`` / ``block_size``.
    """
    ra = _series("a", a, 10, "bars")
    rb = _series("b", b, 10, "bars")
    if ra.size != rb.size:
        raise ValueError(f"a and b must cover the same bars, got {ra.size} and {rb.size} returns")
    if n_boot < 100:
        raise ValueError(f"n_boot must be >= 100 for a usable interval, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if block_size is None:
        stacked = np.column_stack([ra, rb, ra**2, rb**2])
        keep = stacked.std(axis=0) > _EPS
        lengths = optimal_block_length(stacked[:, keep])["stationary"] if keep.any() else [1.0]
        block_size = float(max(1.0, np.nanmax(np.asarray(lengths, dtype=np.float64))))
    elif not block_size >= 1.0:
        raise ValueError(f"block_size must be >= 1 bar, got {block_size}")
    diff = float(annualised_sharpe(ra, periods_per_year) - annualised_sharpe(rb, periods_per_year))
    # arch types block_size as int but uses it as the mean block length (p = 1 / block_size).
    bs = StationaryBootstrap(block_size, ra, rb, seed=np.random.default_rng(seed))  # type: ignore[arg-type]
    boot = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        idx = np.stack([bs.update_indices() for _ in range(stop - start)])
        boot[start:stop] = annualised_sharpe(ra[idx], periods_per_year) - annualised_sharpe(
            rb[idx], periods_per_year
        )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [tail, 1.0 - tail])
    below = np.count_nonzero(boot <= 0.0)
    above = np.count_nonzero(boot >= 0.0)
    p_value = (1.0 + 2.0 * min(below, above)) / (1.0 + n_boot)
    return SharpeDiffCI(
        diff=diff,
        low=float(low),
        high=float(high),
        p_value=float(min(1.0, p_value)),
        block_size=block_size,
        n_boot=n_boot,
        confidence=confidence,
    )


@dataclass(frozen=True)
class PermutationResult:
    """Result of :func:`paired_permutation_test`."""

    statistic: float
    p_value: float
    n_pairs: int
    exact: bool
    n_resamples: int


def paired_permutation_test(
    a: np.ndarray | Sequence[float],
    b: np.ndarray | Sequence[float],
    *,
    alternative: Alternative = "two-sided",
    n_resamples: int = 10_000,
    seed: SeedLike = None,
    chunk: int = 2048,
) -> PermutationResult:
    """Sign-flip permutation test of the mean paired difference ``mean(a - b)``.

    Under ``H0`` (A and B exchangeable within each pair, e.g. the same series, window and
    seed) every difference is as likely to have either sign. Exact over all ``2**n`` sign
    patterns when ``2**n <= n_resamples``; otherwise Monte Carlo with ``n_resamples`` random
    patterns from a seeded Generator and the add-one estimate ``(1 + k) / (1 + n_resamples)``
    (Phipson & Smyth 2010), which is never 0.

    Args:
        a: Per-run scores of policy A (e.g. test Sharpe per series x window x seed).
        b: Scores of policy B on the same runs, in the same order.
        alternative: ``"greater"`` tests A > B, ``"less"`` A < B.
        n_resamples: Monte Carlo patterns, and the exact-enumeration cut-off.
        seed: Seed or Generator (unused when exact).
        chunk: Patterns evaluated at once.

    Returns:
        A :class:`PermutationResult`; ``statistic`` is ``mean(a - b)``.

    Raises:
        ValueError: With fewer than 2 pairs, unequal lengths, non-finite scores or an
            unknown ``alternative``.
    """
    xa = _series("a", a, 2, "paired runs (a two-sided p < 0.05 needs at least 6)")
    xb = _series("b", b, 2, "paired runs (a two-sided p < 0.05 needs at least 6)")
    if xa.size != xb.size:
        raise ValueError(f"a and b must be paired run by run, got {xa.size} and {xb.size} scores")
    _check_alternative(alternative)
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be >= 100, got {n_resamples}")
    d = xa - xb
    n = d.size
    obs = float(d.mean())
    tol = _EPS * max(1.0, float(np.abs(d).max()))
    # The sums of the sign patterns, against n * (mean, tolerance): stats_cells counts them.
    if n < 63 and 2**n <= n_resamples:
        total = 2**n
        p = _exact_hits(d, n * obs, alternative, n * tol) / total
        return PermutationResult(obs, float(p), n, True, total)
    rng = np.random.default_rng(seed)
    hits = _mc_hits(d, n * obs, alternative, n * tol, n_resamples, rng, chunk)
    return PermutationResult(obs, (1.0 + hits) / (1.0 + n_resamples), n, False, n_resamples)


def holm_correction(
    pvalues: Mapping[str, float] | Sequence[float] | np.ndarray, alpha: float = 0.05
) -> pd.DataFrame:
    """Holm step-down correction across scenarios (``statsmodels`` ``multipletests``).

    Controls the family-wise error rate at ``alpha`` without assuming independence.

    Args:
        pvalues: ``{scenario: p}`` or a sequence of p-values.
        alpha: Family-wise error rate.

    Returns:
        Frame indexed by scenario (or position) with ``p_value``, ``p_holm`` and ``reject``.

    Raises:
        ValueError: On no p-values or values outside [0, 1].
    """
    index: pd.Index
    if isinstance(pvalues, Mapping):
        index = pd.Index(list(pvalues.keys()), name="scenario")
        values = np.asarray(list(pvalues.values()), dtype=np.float64)
    else:
        values = np.asarray(pvalues, dtype=np.float64).ravel()
        index = pd.RangeIndex(values.size)
    if values.size == 0:
        raise ValueError("holm_correction needs at least 1 p-value, got 0")
    if not np.all((values >= 0) & (values <= 1)):
        raise ValueError(
            f"p-values must lie in [0, 1], got {values[(values < 0) | (values > 1) | np.isnan(values)][:5]}"
        )
    reject, adjusted, _, _ = multipletests(values, alpha=alpha, method="holm")
    return pd.DataFrame({"p_value": values, "p_holm": adjusted, "reject": reject}, index=index)


def paired_columns(
    frame: pd.DataFrame,
    value: str,
    a: str,
    b: str,
    *,
    policy_col: str = "policy",
    keys: Sequence[str] = ("series", "window", "seed"),
) -> pd.DataFrame:
    """Pair two policies' scores from tidy evaluation rows by ``keys``.

    Args:
        frame: One row per (policy, key...) with a ``value`` column.
        value: Score column (e.g. ``"sharpe"``).
        a: Policy A's name in ``policy_col``.
        b: Policy B's name.
        policy_col: Column naming the policy.
        keys: Columns that identify a run; A and B must share every key combination.

    Returns:
        Frame indexed by ``keys`` with columns ``a`` and ``b`` (sorted by the keys).

    Raises:
        ValueError: On missing columns, duplicate runs or runs present for one policy only.
    """
    missing = [c for c in (value, policy_col, *keys) if c not in frame.columns]
    if missing:
        raise ValueError(f"evaluation rows lack columns {missing}; have {list(frame.columns)}")
    sub = frame[frame[policy_col].isin([a, b])]
    dup = sub.duplicated([policy_col, *keys])
    if dup.any():
        raise ValueError(
            f"{int(dup.sum())} duplicate rows for the same {policy_col} and {list(keys)}"
        )
    wide = sub.pivot_table(index=list(keys), columns=policy_col, values=value, aggfunc="first")
    for name in (a, b):
        if name not in wide.columns:
            raise ValueError(f"no rows for policy {name!r} in column {policy_col!r}")
    unpaired = wide[[a, b]].isna().any(axis=1)
    if unpaired.any():
        raise ValueError(
            f"{int(unpaired.sum())} runs have a score for only one of {a!r} and {b!r}, "
            f"e.g. {wide.index[unpaired][0]}"
        )
    return wide[[a, b]].rename(columns={a: "a", b: "b"}).sort_index()
