"""Feature drift against the training distribution, with alarm levels calibrated per feature.

The statistic is the PSI (population stability index) of the last ``window`` live rows of a
feature against the training split of that feature::

    psi = sum((a - e) * ln(a / e))

over bins: the deciles of the training sample plus one bin below its minimum and one above
its maximum (values never seen in training, with an expected share of ``eps``), shares floored
at ``eps``. The usual fixed reading (> 0.2 is a shift) does not fit rolling features: a year
of 20-bar volatility is autocorrelated and concentrated in a few deciles, so its PSI against
thirteen years is large without anything having changed (median 1.8 on spx windows of the
training years themselves). Each feature's alarm level is therefore calibrated
(`calibrate.calibrated_range`) from the PSI of every ``window``-row window of the training
and validation features (never below ``PSI_FLOOR`` = 0.1, the conventional "stable"
reading); `DriftReference.ratios` divides by it, and a ratio above 1 is drift.

Shapes: ``[N, F]`` training rows, ``[M, F]`` live rows, ``F`` names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from regime_trader.monitoring.calibrate import MARGIN, calibrated_range, segments, window_counts

EPS = 1e-4
BINS = 10
PSI_FLOOR = 0.1  # a PSI below the conventional "stable" reading is never drift


def bin_edges(reference: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Edges of the PSI bins of a 1-D training sample: min, inner quantiles, just above max."""
    r = np.asarray(reference, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return np.array([0.0])
    inner = np.quantile(r, np.linspace(0, 1, bins + 1))[1:-1]
    return np.unique(np.r_[r.min(), inner, np.nextafter(r.max(), np.inf)])


def bin_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (0: below the training minimum; NaN goes to no bin, -1)."""
    v = np.asarray(values, dtype=np.float64)
    codes = np.searchsorted(edges, v, side="right")
    return np.where(np.isfinite(v), codes, -1)


def shares_psi(expected: np.ndarray, counts: np.ndarray, eps: float = EPS) -> np.ndarray:
    """PSI of each row of bin ``counts [N, B]`` against ``expected`` shares ``[B]``."""
    n = counts.sum(axis=-1, keepdims=True)
    a = np.maximum(counts / np.maximum(n, 1.0), eps)
    e = np.maximum(expected, eps)
    return ((a - e) * np.log(a / e)).sum(axis=-1)


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = BINS, eps: float = EPS) -> float:
    """PSI of the 1-D sample ``actual`` against ``expected`` (bins as in the module docstring).

    Examples:
        >>> round(psi(np.arange(1000.0), np.arange(1000.0)), 6)
        0.0
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e, a = e[np.isfinite(e)], a[np.isfinite(a)]
    if e.size == 0 or a.size == 0:
        return float("nan")
    edges = bin_edges(e, bins)
    n_bins = edges.size + 1
    exp = np.bincount(bin_codes(e, edges), minlength=n_bins) / e.size
    got = np.bincount(bin_codes(a, edges), minlength=n_bins)[None, :]
    return float(shares_psi(exp, got, eps)[0])


@dataclass(frozen=True)
class FeatureReference:
    """One feature's training bins, expected shares and calibrated PSI alarm level."""

    name: str
    edges: np.ndarray
    expected: np.ndarray
    limit: float

    def sliding_psi(self, values: np.ndarray, window: int) -> np.ndarray:
        """PSI of every ``window``-row window of ``values`` (``[len - window + 1]``)."""
        counts = window_counts(bin_codes(values, self.edges), self.expected.size, window)
        return shares_psi(self.expected, counts)

    def psi_of(self, values: np.ndarray) -> float:
        """PSI of one live window."""
        codes = bin_codes(values, self.edges)
        counts = np.bincount(codes[codes >= 0], minlength=self.expected.size)
        return float(shares_psi(self.expected, counts[None, :])[0])


def _reference(name: str, train: np.ndarray) -> FeatureReference:
    edges = bin_edges(train)
    codes = bin_codes(train, edges)
    counts = np.bincount(codes[codes >= 0], minlength=edges.size + 1).astype(np.float64)
    return FeatureReference(name, edges, counts / max(counts.sum(), 1.0), float("inf"))


@dataclass(frozen=True)
class DriftReference:
    """The training distribution of every feature and its calibrated PSI alarm levels."""

    features: tuple[FeatureReference, ...]
    window: int
    n_windows: int = 0

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def limits(self) -> np.ndarray:
        return np.array([f.limit for f in self.features])

    @classmethod
    def calibrate(
        cls,
        train: np.ndarray,
        names: Sequence[str],
        *,
        window: int,
        validation: np.ndarray | None = None,
        margin: float = MARGIN,
    ) -> DriftReference:
        """Bins from ``train``; limits from every ``window``-row window of train and validation.

        Raises:
            ValueError: neither part holds one full window.
        """
        x = np.asarray(train, dtype=np.float32).astype(np.float64)
        parts = segments([x, None if validation is None else np.asarray(validation, np.float32)])
        refs = []
        n_windows = sum(max(len(p) - window + 1, 0) for p in parts)
        for j, name in enumerate(names):
            ref = _reference(str(name), x[:, j])
            stats = np.concatenate(
                [ref.sliding_psi(p[:, j].astype(np.float64), window) for p in parts]
            )
            _, hi = calibrated_range(stats[:, None], margin)
            limit = max(float(hi[0]), PSI_FLOOR)
            refs.append(FeatureReference(ref.name, ref.edges, ref.expected, limit))
        return cls(tuple(refs), window, n_windows)

    def psi_of(self, live: np.ndarray) -> np.ndarray:
        """PSI ``[F]`` of the live rows ``[M, F]`` (float32, as training rows are stored)."""
        x = np.asarray(live, dtype=np.float32).astype(np.float64)
        return np.array([f.psi_of(x[:, j]) for j, f in enumerate(self.features)])

    def ratios(self, live: np.ndarray) -> np.ndarray:
        """``psi / limit`` per feature: above 1 is drift."""
        return self.psi_of(live) / np.maximum(self.limits, 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "n_windows": self.n_windows,
            "features": [
                {
                    "name": f.name,
                    "edges": f.edges.tolist(),
                    "expected": f.expected.tolist(),
                    "limit": f.limit,
                }
                for f in self.features
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DriftReference:
        feats = tuple(
            FeatureReference(f["name"], np.array(f["edges"]), np.array(f["expected"]), f["limit"])
            for f in d["features"]
        )
        return cls(feats, int(d["window"]), int(d.get("n_windows", 0)))
