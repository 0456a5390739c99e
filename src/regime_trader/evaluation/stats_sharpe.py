"""Probabilistic and deflated Sharpe ratios (Bailey & López de Prado 2012, 2014).

Bailey, D. H. & López de Prado, M. (2012), "The Sharpe Ratio Efficient Frontier", Journal of
Risk 15(2); (2014), "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest
Overfitting and Non-Normality", Journal of Portfolio Management 40(5). Sharpe ratios here are
per period (not annualised). Re-exported by :mod:`regime_trader.evaluation.stats`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

_EPS = 1e-12


def _series(name: str, x: object, min_len: int, what: str = "observations") -> np.ndarray:
    """A finite 1-D float64 array of at least ``min_len`` values, else a ValueError."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_len:
        raise ValueError(f"{name} needs at least {min_len} {what}, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} contains NaN or inf at positions {np.flatnonzero(~np.isfinite(arr))[:5]}"
        )
    return arr


def psr_from_moments(
    sr: float, n_obs: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """Probabilistic Sharpe ratio from moments (Bailey & López de Prado 2012, eq. 11).

    ``PSR = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2))``.
    All Sharpe ratios are per period (not annualised): divide an annualised one by
    ``sqrt(periods_per_year)``.

    Args:
        sr: Observed per-period Sharpe ratio.
        n_obs: Number of returns it was estimated from.
        skew: Skewness of the returns.
        kurtosis: Kurtosis of the returns (Pearson, 3 for a normal; not excess).
        sr_benchmark: Per-period benchmark Sharpe ``SR*``.

    Returns:
        The probability, in [0, 1], that the true Sharpe exceeds ``sr_benchmark``.

    Raises:
        ValueError: If ``n_obs < 2``.
    """
    if n_obs < 2:
        raise ValueError(f"a probabilistic Sharpe ratio needs at least 2 returns, got {n_obs}")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    z = (sr - sr_benchmark) * np.sqrt(n_obs - 1.0) / np.sqrt(max(var, _EPS))
    return float(sps.norm.cdf(z))


def _moments(returns: object) -> tuple[float, int, float, float]:
    r = _series("returns", returns, 3, "returns")
    std = r.std(ddof=1)
    if std <= _EPS:
        raise ValueError("returns have zero variance: their Sharpe ratio is undefined")
    return float(r.mean() / std), r.size, float(sps.skew(r)), float(sps.kurtosis(r, fisher=False))


def probabilistic_sharpe_ratio(
    returns: np.ndarray | Sequence[float], sr_benchmark: float = 0.0
) -> float:
    """Probabilistic Sharpe ratio of a return series (Bailey & López de Prado 2012).

    Args:
        returns: Per-period returns (at least 3).
        sr_benchmark: Per-period benchmark Sharpe (annualised / sqrt(periods_per_year)).

    Returns:
        ``P(true SR > sr_benchmark)`` accounting for sample length, skewness and kurtosis.
    """
    sr, n, skew, kurt = _moments(returns)
    return psr_from_moments(sr, n, skew, kurt, sr_benchmark)


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum Sharpe of ``n_trials`` unskilled trials (Bailey & López de Prado 2014).

    ``E[max SR] = sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e)))`` with ``g`` the
    Euler-Mascheroni constant and ``V`` the variance of the trials' Sharpe ratios; 0 for one
    trial.

    Args:
        n_trials: Independent configurations tried (count every tuning trial).
        sr_variance: Variance across trials of their (per-period) Sharpe ratios.

    Returns:
        The expected maximum, in the units of ``sqrt(sr_variance)``.

    Raises:
        ValueError: If ``n_trials < 1`` or ``sr_variance < 0``.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not sr_variance >= 0:
        raise ValueError(f"sr_variance must be >= 0, got {sr_variance}")
    if n_trials == 1:
        return 0.0
    g = np.euler_gamma
    q = (1.0 - g) * sps.norm.ppf(1.0 - 1.0 / n_trials) + g * sps.norm.ppf(
        1.0 - 1.0 / (n_trials * np.e)
    )
    return float(np.sqrt(sr_variance) * q)


def deflated_sharpe_ratio(
    returns: np.ndarray | Sequence[float],
    *,
    n_trials: int,
    sr_variance: float | None = None,
    trial_sharpes: np.ndarray | Sequence[float] | None = None,
    periods_per_year: float | None = None,
) -> float:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014): PSR against the expected max.

    The benchmark is :func:`expected_max_sharpe` of ``n_trials`` trials, so the figure is
    the probability that the selected strategy's true Sharpe beats what the best of
    ``n_trials`` skill-less configurations would show by luck.

    Args:
        returns: Per-period returns of the selected strategy (at least 3).
        n_trials: Configurations tried to find it (every tuning trial counts).
        sr_variance: Variance of the trials' per-period Sharpe ratios.
        trial_sharpes: The trials' Sharpe ratios instead (their sample variance is used);
            per period, or annualised when ``periods_per_year`` is given.
        periods_per_year: If set, ``trial_sharpes`` / ``sr_variance`` are annualised.

    Returns:
        The deflated Sharpe ratio, in [0, 1].

    Raises:
        ValueError: Unless exactly one of ``sr_variance`` and ``trial_sharpes`` is given
            (``n_trials == 1`` needs neither), or on fewer than 2 trial Sharpes.
    """
    if (sr_variance is None) == (trial_sharpes is None) and n_trials > 1:
        raise ValueError("give exactly one of sr_variance and trial_sharpes for n_trials > 1")
    if trial_sharpes is not None:
        ts = _series("trial_sharpes", trial_sharpes, 2, "trials")
        sr_variance = float(ts.var(ddof=1))
    var = 0.0 if sr_variance is None else float(sr_variance)
    if periods_per_year is not None:
        var /= periods_per_year
    sr, n, skew, kurt = _moments(returns)
    return psr_from_moments(sr, n, skew, kurt, expected_max_sharpe(n_trials, var))
