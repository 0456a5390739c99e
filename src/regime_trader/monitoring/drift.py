"""Feature drift against the training distribution, and regime-mix shift.

Two statistics per feature, each with a threshold on an *effect size*, not a p-value alone:

* PSI (population stability index) over ``bins`` quantile bins of the training sample:
  ``sum((a - e) * ln(a / e))`` with bin shares floored at ``eps``; the usual reading is
  < 0.1 stable, 0.1-0.2 moderate, > 0.2 a real shift (the default threshold).
* KS: ``scipy.stats.ks_2samp``; a feature counts as drifted only when ``p < alpha`` *and* the
  statistic ``D`` (the largest gap between the two CDFs) is above ``ks_floor``. With a large live
  sample the p-value alone fires on shifts far too small to matter (D = 0.02 is
  "significant" at n = 50,000), and autocorrelated features (rolling windows) make its
p-values far too small even without a shift; the floor keeps the alarm for shifts worth
acting on.

A feature is flagged when either test says so. Shapes: ``[N, F]`` training rows, ``[M, F]``
live rows, ``F`` names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from regime_trader.regimes import REGIME_NAMES

PSI_THRESHOLD = 0.2
KS_FLOOR = 0.15
ALPHA = 0.01
MIN_LIVE = 30  # fewer live rows than this: no drift verdict


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``actual`` against ``expected`` (1-D samples).

    Bin edges are the quantiles of ``expected`` (ties merged), open at both ends, so every
    value falls in a bin.

    Examples:
        >>> round(psi(np.arange(1000.0), np.arange(1000.0)), 6)
        0.0
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e, a = e[np.isfinite(e)], a[np.isfinite(a)]
    if e.size == 0 or a.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1))[1:-1])
    e_share = np.bincount(np.searchsorted(edges, e, side="right"), minlength=edges.size + 1)
    a_share = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1)
    e_share = np.maximum(e_share / e.size, eps)
    a_share = np.maximum(a_share / a.size, eps)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


@dataclass(frozen=True)
class FeatureDrift:
    """Drift verdict of one feature."""

    feature: str
    psi: float
    ks_stat: float
    ks_pvalue: float
    drifted: bool


def feature_drift(
    reference: np.ndarray,
    live: np.ndarray,
    names: list[str] | tuple[str, ...],
    *,
    psi_threshold: float = PSI_THRESHOLD,
    ks_floor: float = KS_FLOOR,
    alpha: float = ALPHA,
) -> list[FeatureDrift]:
    """PSI and KS of every feature column; ``drifted`` by the effect-size rules above.

    Returns an empty list when ``live`` has fewer than ``MIN_LIVE`` rows.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(live, dtype=np.float64)
    if cur.ndim != 2 or len(cur) < MIN_LIVE:
        return []
    out = []
    for j, name in enumerate(names):
        r, c = ref[:, j], cur[:, j]
        r, c = r[np.isfinite(r)], c[np.isfinite(c)]
        p_stat = psi(r, c)
        ks = stats.ks_2samp(r, c)
        d, p = float(ks.statistic), float(ks.pvalue)
        drifted = p_stat > psi_threshold or (p < alpha and d > ks_floor)
        out.append(FeatureDrift(str(name), p_stat, d, p, bool(drifted)))
    return out


def regime_shares(labels: np.ndarray) -> np.ndarray:
    """Share of each regime ``[K]`` among the known labels (zeros when none is known)."""
    lab = np.asarray(labels, dtype=np.int64)
    lab = lab[lab >= 0]
    counts = np.bincount(lab, minlength=len(REGIME_NAMES))[: len(REGIME_NAMES)]
    return counts / counts.sum() if counts.sum() else counts.astype(np.float64)


def regime_mix_shift(reference: np.ndarray, live: np.ndarray) -> float:
    """Total variation distance ``0.5 * sum|p - q|`` between two regime mixes (0..1)."""
    return float(0.5 * np.abs(regime_shares(reference) - regime_shares(live)).sum())
