"""Sign-flip, t and hierarchical-bootstrap tests over independent units (docs/statistics.md).

Array-level building blocks of the cell-level paired comparison in
:mod:`regime_trader.evaluation.stats_paired` (a unit is a (series, window) cell with seeds
averaged, or a whole series):

* :func:`sign_flip_test` -- exact sign-flip test of the mean (all ``2**n`` sign patterns
  when ``n <= max_exact``, by meet-in-the-middle: two half enumerations and a sorted count;
  else seeded Monte Carlo); with ``clusters`` the signs flip per cluster (series);
* :func:`t_test` -- one-sample t-test of the mean (``scipy.stats.ttest_1samp``'s numbers);
* :func:`hierarchical_bootstrap_ci` -- resamples series, then windows within each drawn
  series; percentile CI and a null-centred p-value;
* :func:`min_sign_flip_p` -- the smallest p an exact test over ``n`` units can give
  (``2 / 2**n`` two-sided).

Every random source is a ``numpy.random.Generator`` (or a seed for one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from regime_trader.evaluation.stats_sharpe import _EPS, _series

RngLike = int | np.random.Generator | None
Alternative = Literal["two-sided", "greater", "less"]
MAX_EXACT = 20
_ALTERNATIVES = ("two-sided", "greater", "less")

__all__ = [
    "HierarchicalCI",
    "SignFlipResult",
    "TTestResult",
    "hierarchical_bootstrap_ci",
    "min_sign_flip_p",
    "sign_flip_test",
    "t_test",
]


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(
            f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}"
        )


def min_sign_flip_p(n: int, alternative: Alternative = "two-sided") -> float:
    """Smallest p an exact sign-flip test over ``n`` units can give: ``2 / 2**n`` two-sided,
    ``1 / 2**n`` one-sided (1.0 for no unit)."""
    if n <= 0:
        return 1.0
    return min(1.0, (2.0 if alternative == "two-sided" else 1.0) / 2.0**n)


@dataclass(frozen=True)
class SignFlipResult:
    """Result of :func:`sign_flip_test`; ``statistic`` is the mean over values."""

    statistic: float
    p_value: float
    n_units: int  # values, or clusters when signs flip per cluster
    exact: bool
    n_resamples: int  # sign patterns evaluated (2**n_units when exact)
    min_p: float  # smallest p this design can give


def _half_sums(w: np.ndarray) -> np.ndarray:
    """``signs @ w`` for all ``2**len(w)`` sign patterns."""
    bits = (np.arange(2**w.size, dtype=np.int64)[:, None] >> np.arange(w.size)) & 1
    return (1.0 - 2.0 * bits) @ w


def _exact_hits(w: np.ndarray, obs: float, alternative: str, tol: float) -> int:
    """Sign patterns whose sum is as extreme as ``obs`` (meet in the middle: 2 x 2**(n/2))."""
    left = _half_sums(w[: w.size // 2])
    right = np.sort(_half_sums(w[w.size // 2 :]))

    def at_least(x: float) -> int:
        return int((right.size - np.searchsorted(right, x - left, side="left")).sum())

    def at_most(x: float) -> int:
        return int(np.searchsorted(right, x - left, side="right").sum())

    if alternative == "greater":
        return at_least(obs - tol)
    if alternative == "less":
        return at_most(obs + tol)
    c = abs(obs) - tol
    return 2**w.size if c <= 0 else at_least(c) + at_most(-c)


def _mc_hits(
    w: np.ndarray,
    obs: float,
    alternative: str,
    tol: float,
    n: int,
    rng: np.random.Generator,
    chunk: int = 4096,
) -> int:
    """Of ``n`` random sign patterns, those whose sum is as extreme as ``obs``."""
    hits = 0
    for start in range(0, n, chunk):  # chunks bound memory; not a loop over data
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(chunk, n - start), w.size))
        s = signs @ w
        if alternative == "greater":
            hits += int(np.count_nonzero(s >= obs - tol))
        elif alternative == "less":
            hits += int(np.count_nonzero(s <= obs + tol))
        else:
            hits += int(np.count_nonzero(np.abs(s) >= abs(obs) - tol))
    return hits


def sign_flip_test(
    values: np.ndarray | Sequence[float],
    *,
    clusters: np.ndarray | Sequence[Any] | None = None,
    alternative: Alternative = "two-sided",
    max_exact: int = MAX_EXACT,
    n_resamples: int = 20_000,
    rng: RngLike = None,
) -> SignFlipResult:
    """Sign-flip (randomisation) test that the mean of ``values`` is 0.

    Under H0 each unit's value is symmetric about 0 and units are independent, so every sign
    pattern is equally likely. With ``clusters`` one sign flips all values of a cluster (a
    series): valid when units within a cluster are correlated, e.g. windows of one series
    that share its edge. Exact over all ``2**n`` patterns when ``n <= max_exact`` (``n`` the
    units or clusters); otherwise ``n_resamples`` patterns from the Generator and
    ``(1 + k) / (1 + n_resamples)``, never 0.

    Args:
        values: One difference per unit (e.g. per cell, seeds averaged).
        clusters: Optional cluster label of each value (signs flip per cluster).
        alternative: ``"greater"`` tests mean > 0, ``"less"`` mean < 0.
        max_exact: Largest ``n`` enumerated exactly.
        n_resamples: Monte Carlo patterns above ``max_exact``.
        rng: Generator (or seed) of the Monte Carlo patterns; unused when exact.

    Returns:
        A :class:`SignFlipResult`.

    Raises:
        ValueError: On fewer than 2 units, non-finite values, mismatched clusters or an
            unknown ``alternative``.
    """
    x = _series("values", values, 2, "units (a two-sided p < 0.05 needs at least 6)")
    _check_alternative(alternative)
    if clusters is None:
        w = x
    else:
        codes, uniques = pd.factorize(np.asarray(clusters), sort=True)
        if codes.size != x.size:
            raise ValueError(f"clusters has {codes.size} labels for {x.size} values")
        w = np.bincount(codes, weights=x, minlength=len(uniques))
    n = w.size
    if n < 2:
        raise ValueError(f"sign_flip_test needs at least 2 clusters, got {n}")
    obs = float(w.sum())
    tol = 1e-9 * max(1.0, float(np.abs(w).sum()))
    if n <= max_exact:
        p = _exact_hits(w, obs, alternative, tol) / 2.0**n
        return SignFlipResult(
            obs / x.size, float(p), n, True, 2**n, min_sign_flip_p(n, alternative)
        )
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be >= 100, got {n_resamples}")
    hits = _mc_hits(w, obs, alternative, tol, n_resamples, np.random.default_rng(rng))
    p = (1.0 + hits) / (1.0 + n_resamples)
    return SignFlipResult(obs / x.size, p, n, False, n_resamples, 1.0 / (1.0 + n_resamples))


@dataclass(frozen=True)
class TTestResult:
    """Result of :func:`t_test`."""

    statistic: float
    p_value: float
    df: int
    mean: float
    se: float


def t_test(
    values: np.ndarray | Sequence[float], *, alternative: Alternative = "two-sided"
) -> TTestResult:
    """One-sample t-test of ``mean(values) = 0`` (``scipy.stats.ttest_1samp``'s numbers).

    Args:
        values: One difference per independent unit.
        alternative: As in :func:`sign_flip_test`.

    Returns:
        A :class:`TTestResult`; all values equal gives ``t = 0, p = 1`` when they are 0 and
        ``t = +-inf, p = 0`` (one-sided: 0 or 1) otherwise.

    Raises:
        ValueError: On fewer than 2 values or an unknown ``alternative``.
    """
    x = _series("values", values, 2, "units")
    _check_alternative(alternative)
    n, mean = x.size, float(x.mean())
    se = float(x.std(ddof=1) / np.sqrt(n))
    if se <= _EPS * max(1.0, abs(mean)):
        t = 0.0 if abs(mean) <= _EPS else float(np.sign(mean) * np.inf)
    else:
        t = mean / se
    dist = sps.t(n - 1)
    if alternative == "greater":
        p = float(dist.sf(t))
    elif alternative == "less":
        p = float(dist.cdf(t))
    else:
        p = float(min(1.0, 2.0 * dist.sf(abs(t))))
    return TTestResult(t, p, n - 1, mean, se)


@dataclass(frozen=True)
class HierarchicalCI:
    """Result of :func:`hierarchical_bootstrap_ci` (units of the values)."""

    point: float
    low: float
    high: float
    p_value: float
    n_boot: int
    confidence: float


def hierarchical_bootstrap_ci(
    values: np.ndarray | Sequence[float],
    series: np.ndarray | Sequence[Any],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    rng: RngLike = None,
    chunk: int = 500,
) -> HierarchicalCI:
    """Two-stage bootstrap of the mean cell value: series with replacement, then, in each
    drawn series, as many of its windows (cells) with replacement.

    The interval is the percentile interval of the replicate means; the two-sided p-value is
    null-centred, ``(1 + #{|m* - m| >= |m|}) / (1 + n_boot)``. With few series it is
    optimistic (a bootstrap of ``S`` clusters ignores the ``S - 1`` degrees of freedom).

    Args:
        values: One value per cell (seeds averaged).
        series: Series label of each cell.
        n_boot: Replicates.
        confidence: Coverage of the interval.
        rng: Generator or seed.
        chunk: Replicates evaluated at once.

    Returns:
        A :class:`HierarchicalCI`.

    Raises:
        ValueError: On fewer than 2 series, mismatched lengths or bad ``n_boot``/``confidence``.
    """
    x = _series("values", values, 2, "cells")
    codes, uniques = pd.factorize(np.asarray(series), sort=True)
    if codes.size != x.size:
        raise ValueError(f"series has {codes.size} labels for {x.size} values")
    if len(uniques) < 2:
        raise ValueError(f"a hierarchical bootstrap needs at least 2 series, got {len(uniques)}")
    if n_boot < 100 or not 0.0 < confidence < 1.0:
        raise ValueError(f"need n_boot >= 100 and confidence in (0, 1), got {n_boot}, {confidence}")
    n_s = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    slot = np.arange(x.size) - np.repeat(np.cumsum(n_s) - n_s, n_s)
    grid = np.zeros((n_s.size, n_s.max()))
    grid[codes[order], slot] = x[order]
    gen = np.random.default_rng(rng)
    cols = np.arange(n_s.max())
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        s_idx = gen.integers(0, n_s.size, size=(k, n_s.size))
        nw = n_s[s_idx][..., None]
        w_idx = np.floor(gen.random((k, n_s.size, cols.size)) * nw).astype(np.int64)
        keep = cols < nw
        vals = grid[s_idx[..., None], w_idx]
        out[start : start + k] = (vals * keep).sum(axis=(1, 2)) / keep.sum(axis=(1, 2))
    point = float(x.mean())
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(out, [tail, 1.0 - tail])
    extreme = np.count_nonzero(np.abs(out - point) >= abs(point) - 1e-12 * max(1.0, abs(point)))
    p = (1.0 + extreme) / (1.0 + n_boot)
    return HierarchicalCI(point, float(low), float(high), float(min(1.0, p)), n_boot, confidence)
