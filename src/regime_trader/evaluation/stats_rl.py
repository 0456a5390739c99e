"""Aggregate statistics across runs, after rliable (Agarwal et al. 2021).

Agarwal, Schwarzer, Castro, Courville & Bellemare, "Deep Reinforcement Learning at the Edge
of the Statistical Precipice", NeurIPS 2021. rliable itself is archived (and breaks on arch 8),
so its methods are implemented here, vectorised over bootstrap replicates:

* :func:`iqm` -- interquartile mean: the mean of the middle 50% of all ``runs x tasks``
  scores (``scipy.stats.trim_mean(x, 0.25, axis=None)``), robust to outlier runs yet less
  noisy than the median;
* :func:`stratified_bootstrap_ci` / :func:`iqm_ci` -- percentile CIs from a bootstrap that
  resamples runs with replacement *within each task* (the task is the stratum);
* :func:`probability_of_improvement` -- ``P(X > Y)`` for a random run of X and of Y on the
  same task (Mann-Whitney U / (n m), ties count one half), averaged over tasks, with a
  stratified bootstrap CI.

Scores are arrays ``[n_runs, n_tasks]`` (a 1-D array is one task); a task is a series or a
scenario, a run a (window, seed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

SeedLike = int | np.random.Generator | None
MIN_RUNS_CI = 3


@dataclass(frozen=True)
class IntervalEstimate:
    """A point estimate with its bootstrap percentile interval."""

    point: float
    low: float
    high: float
    confidence: float
    n_boot: int


def _scores(name: str, x: object, min_runs: int) -> np.ndarray:
    """A finite float64 ``[n_runs, n_tasks]`` array with at least ``min_runs`` runs."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be [n_runs, n_tasks] (or 1-D), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no tasks")
    if arr.shape[0] < min_runs:
        raise ValueError(
            f"{name} needs at least {min_runs} runs per task, got {arr.shape[0]}"
            + (" (stratified bootstrap CIs resample runs)" if min_runs > 1 else "")
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf (every run needs a score on every task)")
    return arr


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all runs and tasks (rliable's ``aggregate_iqm``).

    Args:
        scores: ``[n_runs, n_tasks]`` or 1-D scores.

    Returns:
        ``scipy.stats.trim_mean(scores, 0.25, axis=None)``.

    Raises:
        ValueError: On empty or non-finite scores.
    """
    return float(sps.trim_mean(_scores("scores", scores, 1), 0.25, axis=None))


def _iqm_batch(boot: np.ndarray) -> np.ndarray:
    """IQM of each replicate of ``[n_boot, n_runs, n_tasks]``."""
    return sps.trim_mean(boot.reshape(boot.shape[0], -1), 0.25, axis=1)


def _stratified_indices(
    rng: np.random.Generator, n_boot: int, n_runs: int, n_tasks: int
) -> np.ndarray:
    """Run indices ``[n_boot, n_runs, n_tasks]`` drawn with replacement per task."""
    return rng.integers(0, n_runs, size=(n_boot, n_runs, n_tasks))


def _check(n_boot: int, confidence: float) -> float:
    if n_boot < 100:
        raise ValueError(f"n_boot must be >= 100 for a usable interval, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return (1.0 - confidence) / 2.0


def stratified_bootstrap_ci(
    scores: np.ndarray,
    aggregate: Callable[[np.ndarray], np.ndarray] = _iqm_batch,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: SeedLike = None,
    chunk: int = 500,
) -> IntervalEstimate:
    """Percentile CI of an aggregate under the stratified (per-task) bootstrap.

    Args:
        scores: ``[n_runs, n_tasks]`` with at least :data:`MIN_RUNS_CI` runs.
        aggregate: Maps replicates ``[k, n_runs, n_tasks]`` to ``[k]`` aggregates (default:
            IQM; e.g. ``lambda b: b.mean(axis=(1, 2))`` for the mean).
        n_boot: Bootstrap replicates.
        confidence: Coverage of the interval.
        seed: Seed or Generator.
        chunk: Replicates evaluated at once.

    Returns:
        An :class:`IntervalEstimate` whose point is ``aggregate`` on the original scores.

    Raises:
        ValueError: With fewer than :data:`MIN_RUNS_CI` runs, or bad ``n_boot``/``confidence``.
    """
    x = _scores("scores", scores, MIN_RUNS_CI)
    tail = _check(n_boot, confidence)
    rng = np.random.default_rng(seed)
    n_runs, n_tasks = x.shape
    tasks = np.arange(n_tasks)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        out[start : start + k] = aggregate(x[_stratified_indices(rng, k, n_runs, n_tasks), tasks])
    low, high = np.quantile(out, [tail, 1.0 - tail])
    point = float(np.asarray(aggregate(x[None]))[0])
    return IntervalEstimate(point, float(low), float(high), confidence, n_boot)


def iqm_ci(
    scores: np.ndarray,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: SeedLike = None,
) -> IntervalEstimate:
    """IQM with its stratified bootstrap CI (Agarwal et al. 2021, rliable's default).

    Args:
        scores: ``[n_runs, n_tasks]`` with at least :data:`MIN_RUNS_CI` runs.
        n_boot: Bootstrap replicates.
        confidence: Coverage of the interval.
        seed: Seed or Generator.

    Returns:
        An :class:`IntervalEstimate` of the IQM.
    """
    return stratified_bootstrap_ci(
        scores, _iqm_batch, n_boot=n_boot, confidence=confidence, seed=seed
    )


def _poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``P(X > Y) + P(X = Y) / 2`` averaged over tasks, for replicates ``[k, n, tasks]``."""
    xs, ys = x[:, :, None, :], y[:, None, :, :]
    win = (xs > ys).mean(axis=(1, 2)) + 0.5 * (xs == ys).mean(axis=(1, 2))
    return win.mean(axis=-1)


def probability_of_improvement(
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: SeedLike = None,
    chunk: int = 200,
) -> IntervalEstimate:
    """Probability that policy X beats policy Y on a random task (Agarwal et al. 2021).

    Per task, ``P(X > Y)`` is the Mann-Whitney U statistic over all run pairs divided by
    ``n_x n_y`` (ties count 1/2); the figure is its mean over tasks. The CI resamples X's
    and Y's runs independently within each task. 0.5 means no difference; rliable reads a
    lower CI bound above 0.5 as a statistically meaningful improvement.

    Args:
        x: Scores ``[n_runs_x, n_tasks]`` of X (at least :data:`MIN_RUNS_CI` runs).
        y: Scores ``[n_runs_y, n_tasks]`` of Y on the same tasks.
        n_boot: Bootstrap replicates.
        confidence: Coverage of the interval.
        seed: Seed or Generator.
        chunk: Replicates evaluated at once.

    Returns:
        An :class:`IntervalEstimate` of the probability of improvement.

    Raises:
        ValueError: On different task counts or too few runs.
    """
    sx = _scores("x", x, MIN_RUNS_CI)
    sy = _scores("y", y, MIN_RUNS_CI)
    if sx.shape[1] != sy.shape[1]:
        raise ValueError(f"x and y must cover the same tasks, got {sx.shape[1]} and {sy.shape[1]}")
    tail = _check(n_boot, confidence)
    rng = np.random.default_rng(seed)
    tasks = np.arange(sx.shape[1])
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        bx = sx[_stratified_indices(rng, k, sx.shape[0], sx.shape[1]), tasks]
        by = sy[_stratified_indices(rng, k, sy.shape[0], sy.shape[1]), tasks]
        out[start : start + k] = _poi(bx, by)
    low, high = np.quantile(out, [tail, 1.0 - tail])
    return IntervalEstimate(
        float(_poi(sx[None], sy[None])[0]), float(low), float(high), confidence, n_boot
    )
