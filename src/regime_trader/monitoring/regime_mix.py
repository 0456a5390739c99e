"""Regime mix of the live bars against training, with calibrated per-regime share ranges.

Regimes persist for weeks, so the mix of a year of bars differs from the long-run training
mix even when nothing has changed. The check therefore compares the share of each regime
among the last ``window`` labelled bars with the range of that share over every
``window``-bar window of the training and validation labels (`calibrate.calibrated_range`),
and the total variation distance ``0.5 * sum|p_live - p_train|`` with its own calibrated
limit. `RegimeReference.score` is the largest of the per-regime excursions (0 at the
training share, 1 at the edge of the calibrated range) and ``tvd / limit``: above 1 alarms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from regime_trader.monitoring.calibrate import MARGIN, calibrated_range, segments, window_counts
from regime_trader.regimes import REGIME_NAMES

K = len(REGIME_NAMES)
MIN_KNOWN = 0.5  # a window needs this share of labelled (not warm-up) bars to count
MIN_WIDTH = 0.05  # a share range reaches at least this far either side of the training mix


def regime_shares(labels: np.ndarray) -> np.ndarray:
    """Share of each regime ``[K]`` among the known labels (zeros when none is known)."""
    lab = np.asarray(labels, dtype=np.int64)
    lab = lab[(lab >= 0) & (lab < K)]
    counts = np.bincount(lab, minlength=K)[:K]
    return counts / counts.sum() if counts.sum() else counts.astype(np.float64)


def regime_mix_shift(reference: np.ndarray, live: np.ndarray) -> float:
    """Total variation distance ``0.5 * sum|p - q|`` between two regime mixes (0..1)."""
    return float(0.5 * np.abs(regime_shares(reference) - regime_shares(live)).sum())


def _window_shares(labels: np.ndarray, window: int) -> np.ndarray:
    """Shares ``[W, K]`` of every ``window``-bar window with enough known labels."""
    counts = window_counts(labels, K, window)
    known = counts.sum(axis=1)
    keep = known >= MIN_KNOWN * window
    return counts[keep] / known[keep, None]


@dataclass(frozen=True)
class RegimeReference:
    """Training mix, calibrated share ranges ``[K]`` and TVD limit for ``window`` bars."""

    train: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    tvd_limit: float
    window: int
    n_windows: int = 0

    @classmethod
    def calibrate(
        cls,
        train: np.ndarray,
        *,
        window: int,
        validation: np.ndarray | None = None,
        margin: float = MARGIN,
    ) -> RegimeReference:
        """The training mix; ranges from every ``window``-bar window of train and validation.

        Raises:
            ValueError: no window with enough labelled bars.
        """
        mix = regime_shares(train)
        shares = [_window_shares(p, window) for p in segments([train, validation])]
        all_shares = np.concatenate(shares) if shares else np.zeros((0, K))
        lo, hi = calibrated_range(all_shares, margin)
        lo, hi = np.minimum(lo, mix - MIN_WIDTH), np.maximum(hi, mix + MIN_WIDTH)
        tvd = 0.5 * np.abs(all_shares - mix).sum(axis=1)
        _, tvd_hi = calibrated_range(tvd[:, None], margin)
        return cls(mix, lo, hi, float(tvd_hi[0]), window, len(all_shares))

    def ready(self, live: np.ndarray) -> bool:
        """Whether ``live`` holds a full window with enough labelled bars."""
        lab = np.asarray(live)
        return len(lab) >= self.window and (lab[-self.window :] >= 0).sum() >= (
            MIN_KNOWN * self.window
        )

    def excursions(self, shares: np.ndarray) -> np.ndarray:
        """Per regime: 0 at the training share, 1 at the calibrated edge on that side."""
        up = (shares - self.train) / np.maximum(self.hi - self.train, 1e-12)
        down = (self.train - shares) / np.maximum(self.train - self.lo, 1e-12)
        return np.maximum(up, down)

    def score(self, live: np.ndarray) -> tuple[float, np.ndarray, float]:
        """``(score, shares [K], tvd)`` of the last ``window`` labels of ``live``."""
        shares = regime_shares(np.asarray(live)[-self.window :])
        tvd = float(0.5 * np.abs(shares - self.train).sum())
        score = max(float(self.excursions(shares).max()), tvd / max(self.tvd_limit, 1e-12))
        return score, shares, tvd

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train.tolist(),
            "lo": self.lo.tolist(),
            "hi": self.hi.tolist(),
            "tvd_limit": self.tvd_limit,
            "window": self.window,
            "n_windows": self.n_windows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegimeReference:
        arr = {k: np.array(d[k], dtype=np.float64) for k in ("train", "lo", "hi")}
        return cls(
            arr["train"], arr["lo"], arr["hi"], d["tvd_limit"], d["window"], d.get("n_windows", 0)
        )
