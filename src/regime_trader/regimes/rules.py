"""Rule-based market regimes: the plan's four-way ``np.select`` with scale-free thresholds.

Two causal inputs per bar (window ``w = cfg.window``):

* ``trend_score = (LINEARREG_SLOPE(close, w) / close) / vol`` -- fitted drift per bar as a
  fraction of price, in units of the per-bar noise ``vol``;
* ``vol_ratio = vol / median(vol over the last cfg.vol_history bars)`` -- volatility relative
  to the series' own recent history (rolling, not expanding);

where ``vol`` is the rolling sample std (ddof=1) of 1-bar log returns over ``w`` bars. The
rules, first match wins (like ``np.select``):

1. uptrend:     ``trend_score >  trend_threshold`` and ``vol_ratio > min_vol_ratio``
2. downtrend:   ``trend_score < -trend_threshold`` and ``vol_ratio > min_vol_ratio``
3. plateau:     ``|trend_score| <= trend_threshold`` and ``vol_ratio <  vol_threshold``
4. oscillating: ``|trend_score| <= trend_threshold`` and ``vol_ratio >= vol_threshold``

Anything else, and every warm-up row, is ``UNKNOWN`` (-1).

With ``cfg.min_duration = k > 1`` the labels then pass through :func:`apply_min_duration`: a
label changes only once the new rule label has held ``k`` bars (causal, delays a switch by
``k - 1`` bars, ignores flickers shorter than ``k``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regime_trader.config import RegimeConfig
from regime_trader.errors import DataError
from regime_trader.features.indicators import realised_vol, realised_vol_lookback, slope_lookback
from regime_trader.features.trend import linreg_slope_frac

UPTREND, DOWNTREND, PLATEAU, OSCILLATING, UNKNOWN = 0, 1, 2, 3, -1
REGIME_NAMES: tuple[str, ...] = ("uptrend", "downtrend", "plateau", "oscillating")
"""Regime names indexed by regime code (0..3; UNKNOWN, -1, has none). The one definition:
every other module imports it from `regime_trader.regimes`."""

SHORT_HORIZON = RegimeConfig(window=20, trend_threshold=0.15, vol_history=250, min_duration=1)
"""The former defaults: a month of bars, no minimum duration. They recover the ~60-bar regimes
of the synthetic scenarios best (docs/scenarios.md), but on real daily bars their uptrend
labels were followed by *lower* returns than their downtrend labels on 13 of 18 series
(short-term reversal); the defaults now look half a year back (docs/regimes.md)."""


def regime_lookback(cfg: RegimeConfig = RegimeConfig()) -> int:
    """Warm-up rows of ``classify_regimes`` (labels are UNKNOWN before this row).

    ``vol`` is defined from row ``window``; its rolling median needs ``vol_history`` values,
    so the first label is at row ``window + vol_history - 1``.

    Args:
        cfg: Regime thresholds and windows.

    Returns:
        Number of leading rows that are always UNKNOWN.
    """
    vol_lb = realised_vol_lookback(cfg.window)
    return max(slope_lookback(cfg.window), vol_lb + cfg.vol_history - 1)


def regime_inputs(ohlcv: pd.DataFrame, cfg: RegimeConfig = RegimeConfig()) -> pd.DataFrame:
    """Scale-free inputs of the regime rule, NaN during warm-up.

    Args:
        ohlcv: OHLCV frame; only ``close`` is used.
        cfg: Regime thresholds and windows.

    Returns:
        float64 frame with the input's index and columns ``trend_score`` and ``vol_ratio``.

    Raises:
        DataError: If the frame has no ``close`` column.
    """
    if "close" not in ohlcv.columns:
        raise DataError("regime rules need a lower-case 'close' column in the OHLCV frame")
    close = ohlcv["close"].to_numpy(dtype=np.float64)
    slope = linreg_slope_frac(close, cfg.window)
    vol = realised_vol(close, cfg.window)
    med = (
        pd.Series(vol)
        .rolling(cfg.vol_history, min_periods=cfg.vol_history)
        .median()
        .to_numpy(dtype=np.float64)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = slope / vol
        ratio = vol / med
    # A perfectly flat window (0 / 0) has no trend and no volatility.
    trend[(slope == 0) & (vol == 0)] = 0.0
    ratio[(vol == 0) & (med == 0)] = 0.0
    return pd.DataFrame({"trend_score": trend, "vol_ratio": ratio}, index=ohlcv.index)


def classify_regimes(ohlcv: pd.DataFrame, cfg: RegimeConfig = RegimeConfig()) -> np.ndarray:
    """Label every bar with a regime (see the module docstring for the rule).

    Causal: the label at row t uses rows <= t only. Multiplying all prices by a constant
    leaves every label unchanged.

    Args:
        ohlcv: OHLCV frame; only ``close`` is used.
        cfg: Regime thresholds and windows.

    Returns:
        int8 [T]: 0 uptrend, 1 downtrend, 2 plateau, 3 oscillating, -1 unknown/warm-up.
    """
    x = regime_inputs(ohlcv, cfg)
    trend = x["trend_score"].to_numpy()
    ratio = x["vol_ratio"].to_numpy()
    valid = np.isfinite(trend) & ~np.isnan(ratio)
    thr = cfg.trend_threshold
    with np.errstate(invalid="ignore"):
        flat = np.abs(trend) <= thr
        conditions = [
            valid & (trend > thr) & (ratio > cfg.min_vol_ratio),
            valid & (trend < -thr) & (ratio > cfg.min_vol_ratio),
            valid & flat & (ratio < cfg.vol_threshold),
            valid & flat & (ratio >= cfg.vol_threshold),
        ]
    choices = [UPTREND, DOWNTREND, PLATEAU, OSCILLATING]
    labels = np.select(conditions, choices, default=UNKNOWN).astype(np.int8)
    labels[: regime_lookback(cfg)] = UNKNOWN
    if cfg.min_duration > 1:
        labels = apply_min_duration(labels, cfg.min_duration)
    return labels


def apply_min_duration(labels: np.ndarray, min_duration: int) -> np.ndarray:
    """Causal minimum-duration filter (hysteresis in time) over regime labels.

    The output keeps its current label until a different raw label has held for
    ``min_duration`` consecutive bars; it then switches on that bar. ``UNKNOWN`` bars pass
    through unchanged, and the first known label after an ``UNKNOWN`` stretch (or at the
    start) is adopted at once, so the warm-up does not grow. Vectorised: run lengths from a
    cumulative run id, then a forward fill of the last confirmed bar. Output at bar t depends
    on raw labels <= t only.

    Args:
        labels: int labels ``[T]`` (``-1`` unknown).
        min_duration: Bars a new label must hold; 1 returns a copy unchanged.

    Returns:
        int8 ``[T]`` filtered labels.

    Raises:
        ValueError: If ``min_duration < 1`` or ``labels`` is not 1-D.
    """
    if min_duration < 1:
        raise ValueError(f"min_duration must be >= 1 bar, got {min_duration}")
    lab = np.asarray(labels).astype(np.int8)
    if lab.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {lab.shape}")
    if min_duration == 1 or lab.size == 0:
        return lab.copy()
    pos = np.arange(lab.size)
    new_run = np.r_[True, lab[1:] != lab[:-1]]
    run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
    run_len = pos - run_start + 1
    after_unknown = (run_start == 0) | (lab[np.maximum(run_start - 1, 0)] < 0)
    confirmed = (lab < 0) | (run_len >= min_duration) | after_unknown
    last = np.maximum.accumulate(np.where(confirmed, pos, 0))
    return lab[last]


def regime_shares(labels: np.ndarray) -> dict[str, float]:
    """Share of each regime among the known (non-negative) labels.

    Args:
        labels: Regime labels as returned by ``classify_regimes``.

    Returns:
        ``{name: share}`` for every name in ``REGIME_NAMES``; shares sum to 1 (all 0.0 when
        no label is known).
    """
    lab = np.asarray(labels)
    known = lab[lab >= 0]
    counts = np.bincount(known.astype(np.int64), minlength=len(REGIME_NAMES))
    total = counts.sum()
    return {
        name: (float(counts[i]) / float(total) if total else 0.0)
        for i, name in enumerate(REGIME_NAMES)
    }


def mean_run_length(labels: np.ndarray) -> float:
    """Mean length in bars of runs of equal known labels (a choppiness check).

    Args:
        labels: Regime labels.

    Returns:
        Average run length over runs of known labels; 0.0 when there are none.
    """
    lab = np.asarray(labels)
    lab = lab[lab >= 0]
    if lab.size == 0:
        return 0.0
    runs = 1 + int(np.count_nonzero(lab[1:] != lab[:-1]))
    return lab.size / runs


def label_quality(
    labels: np.ndarray, true_labels: np.ndarray | None = None
) -> dict[str, float | int]:
    """How usable a label series is: mean run length and agreement with the truth.

    Args:
        labels: Detected labels ``[T]`` (``-1`` unknown), e.g. from ``classify_regimes`` or
            ``MarkovRegimeDetector.labels``.
        true_labels: Known regimes ``[T]`` (a scenario's ``true_regime`` column), optional.

    Returns:
        ``mean_run_length`` (bars, over known labels), ``switches_per_100`` (label changes per
        100 known bars), ``scored`` (known bars) and, with ``true_labels``, ``agreement`` (share
        of known bars equal to the truth; NaN when none is scored).

    Raises:
        ValueError: If ``true_labels`` has a different length.
    """
    lab = np.asarray(labels)
    known = lab >= 0
    kept = lab[known]
    switches = int(np.count_nonzero(kept[1:] != kept[:-1]))
    out: dict[str, float | int] = {
        "mean_run_length": mean_run_length(lab),
        "switches_per_100": 100.0 * switches / kept.size if kept.size else 0.0,
        "scored": int(known.sum()),
    }
    if true_labels is not None:
        truth = np.asarray(true_labels)
        if truth.shape != lab.shape:
            raise ValueError(f"true_labels has shape {truth.shape}, labels {lab.shape}")
        out["agreement"] = float(np.mean(kept == truth[known])) if kept.size else float("nan")
    return out
