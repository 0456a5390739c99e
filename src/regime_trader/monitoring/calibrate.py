"""Alarm levels from the statistic's own spread on data where nothing changed.

Every monitored statistic (a rolling metric, a feature's PSI, a regime's share) is computed
over each window of the live length that fits in the calibration data (every start: stride
one), and the alarm level is the range of those values widened by a margin::

    lo = min - margin * (median - min)        hi = max + margin * (max - median)

Replaying any stretch of the calibration data therefore raises no alarm (each of its live
windows is one of the calibration windows), and a live window alarms only when it is more
extreme than every window of the same length the model was trained and selected on. That is
the price of zero false alarms on the validation replay: a shift no larger than the training
years' own swings (spx 2008 for volatility) is, by this rule, not a shift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MARGIN = 0.5
"""Default widening beyond the extreme calibration window, as a fraction of its distance from
the median window (docs/monitoring.md measures 0.5 against 1.0)."""


def calibrated_range(values: np.ndarray, margin: float = MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` per column of ``values [N, ...]`` (NaN ignored; see the module docstring).

    Raises:
        ValueError: no finite value in a column, or a negative margin.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] == 0 or not np.isfinite(v).any(axis=0).all():
        raise ValueError("no calibration window: the calibration data is shorter than a window")
    lo, mid, hi = np.nanmin(v, axis=0), np.nanmedian(v, axis=0), np.nanmax(v, axis=0)
    return lo - margin * (mid - lo), hi + margin * (hi - mid)


def window_counts(codes: np.ndarray, n_codes: int, window: int) -> np.ndarray:
    """Counts ``[N - window + 1, n_codes]`` of each code ``0..n_codes-1`` in every window.

    ``codes`` is an int array ``[N]``; a code outside the range is not counted.
    """
    c = np.asarray(codes, dtype=np.int64)
    if len(c) < window:
        return np.zeros((0, n_codes))
    onehot = np.zeros((len(c) + 1, n_codes))
    ok = (c >= 0) & (c < n_codes)
    onehot[1:][np.flatnonzero(ok), c[ok]] = 1.0
    cum = np.cumsum(onehot, axis=0)
    return cum[window:] - cum[:-window]


def segments(parts: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """The non-empty parts (train, validation, ...): windows never straddle two of them."""
    return [np.asarray(p) for p in parts if p is not None and len(p)]
