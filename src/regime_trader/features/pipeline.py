"""Feature pipeline: OHLCV frame -> scale-free, causal feature matrix (+ train-only scaler).

``compute_features`` keeps warm-up rows as NaN; ``build_features`` drops them (never
back-fills) and checks that what is left is finite. ``Scaler`` is fitted on the training
split only and serialises to JSON-safe lists so it can ship with a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from regime_trader.config import FeatureConfig
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import indicators as ind
from regime_trader.features.long_horizon import long_horizon_columns

_PRICE_COLUMNS = ("open", "high", "low", "close")


def feature_names(cfg: FeatureConfig = FeatureConfig()) -> list[str]:
    """Column names of ``compute_features`` for `cfg`, in order.

    Args:
        cfg: Feature periods.

    Returns:
        Names such as ``adx_14, slope_14, persistence_20, rsi_14, stoch_k, stoch_d,
        bb_width_20, bb_pos_20, ret_1, ret_5, ret_20, vol_20, range_1``.

    Raises:
        ConfigError: If two features would share a name (e.g. repeated return lags).
    """
    if len(set(cfg.return_lags)) != len(cfg.return_lags):
        raise ConfigError(f"features.return_lags has repeated lags: {cfg.return_lags}")
    return list(ind.lookbacks(cfg))


def feature_lookback(cfg: FeatureConfig = FeatureConfig()) -> int:
    """Number of leading warm-up rows of ``compute_features`` (largest feature lookback).

    Args:
        cfg: Feature periods.

    Returns:
        ``L`` such that ``compute_features(df, cfg).iloc[L:]`` has no NaN on clean data.
    """
    return ind.lookback(cfg)


def _price_arrays(ohlcv: pd.DataFrame) -> dict[str, np.ndarray]:
    """Extract float64 price columns, with a DataError naming any missing column."""
    missing = [c for c in _PRICE_COLUMNS if c not in ohlcv.columns]
    if missing:
        raise DataError(
            f"OHLCV frame lacks column(s) {missing}; expected lower-case "
            f"{list(_PRICE_COLUMNS)} (+ volume). Load it with the data loaders to normalise names."
        )
    return {c: ohlcv[c].to_numpy(dtype=np.float64) for c in _PRICE_COLUMNS}


def compute_features(ohlcv: pd.DataFrame, cfg: FeatureConfig = FeatureConfig()) -> pd.DataFrame:
    """Raw (unscaled) scale-free features of an OHLCV frame; NaN during warm-up.

    Every value at row t depends on rows <= t only. Volume is not used.

    Args:
        ohlcv: Frame with columns ``open high low close`` (volume optional).
        cfg: Feature periods.

    Returns:
        float64 frame with the input's index and columns ``feature_names(cfg)``.

    Raises:
        DataError: If a price column is missing.
    """
    p = _price_arrays(ohlcv)
    h, lo, c = p["high"], p["low"], p["close"]  # no feature uses the open (yet)
    stoch_k, stoch_d = ind.stoch(h, lo, c, cfg.stoch_k, cfg.stoch_slow, cfg.stoch_d)
    bb_width, bb_pos = ind.bbands(c, cfg.bb_period, cfg.bb_std)
    cols: list[np.ndarray] = [
        ind.adx(h, lo, c, cfg.adx_period),
        ind.slope(c, cfg.slope_period),
        ind.persistence(c, cfg.persistence_window),
        ind.rsi(c, cfg.rsi_period),
        stoch_k,
        stoch_d,
        bb_width,
        bb_pos,
    ]
    cols += [ind.log_return(c, lag) for lag in cfg.return_lags]
    cols += [ind.realised_vol(c, cfg.vol_window), ind.log_range(h, lo)]
    cols += long_horizon_columns(c, cfg)  # empty unless cfg.long_horizon
    data = np.column_stack(cols) if len(c) else np.empty((0, len(cols)))
    return pd.DataFrame(data, index=ohlcv.index, columns=feature_names(cfg), dtype=np.float64)


@dataclass(frozen=True)
class FeatureSet:
    """Warm-up-free feature matrix of one series.

    Attributes:
        values: float32 [T, F] raw features (scale with a fitted ``Scaler``).
        names: F feature names.
        index: T bar timestamps (the input's index after the warm-up rows).
        lookback: Warm-up rows dropped from the input.
    """

    values: np.ndarray
    names: list[str]
    index: pd.DatetimeIndex
    lookback: int

    def to_frame(self) -> pd.DataFrame:
        """Return the features as a DataFrame indexed by timestamp."""
        return pd.DataFrame(self.values, index=self.index, columns=list(self.names))


def build_features(ohlcv: pd.DataFrame, cfg: FeatureConfig = FeatureConfig()) -> FeatureSet:
    """Compute the observation features, drop the warm-up rows and check the rest is finite.

    With ``cfg.timeframes`` the coarse columns ``name@tf`` of ``multi_timeframe_features``
    (each coarse bar visible only after it has closed) follow the base columns, and the
    warm-up also covers the coarse warm-up (``timeframe_warmup``: it depends on the calendar
    of the series, so ``FeatureSet.lookback`` is the rows actually dropped).

    Args:
        ohlcv: OHLCV frame (see ``compute_features``).
        cfg: Feature periods and timeframes.

    Returns:
        ``FeatureSet`` with ``len(ohlcv) - lookback`` rows.

    Raises:
        DataError: If the frame is too short for the lookback, or a feature is NaN/inf
            after the warm-up (for instance a zero or missing price).
    """
    lb = feature_lookback(cfg)
    if len(ohlcv) < lb + 1:
        raise DataError(
            f"the feature pipeline needs at least {lb + 1} bars for the lookback, "
            f"got {len(ohlcv)}; use a longer series or shorter feature periods."
        )
    if cfg.timeframes:
        from regime_trader.features import timeframes as mtf  # it imports this module

        frame = mtf.multi_timeframe_features(ohlcv, cfg.timeframes, cfg)
        lb = max(lb, mtf.timeframe_warmup(pd.DatetimeIndex(ohlcv.index), cfg.timeframes, cfg))
        frame = frame.iloc[lb:]
    else:
        frame = compute_features(ohlcv, cfg).iloc[lb:]
    values = frame.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))  # earliest bad bar, then its first bad feature
        col = int(np.argmax(bad[row]))
        raise DataError(
            f"feature '{frame.columns[col]}' is {values[row, col]} at {frame.index[row]} "
            f"(after the {lb}-bar warm-up); check the input prices around that bar "
            "(zero, negative, missing or non-finite values)."
        )
    return FeatureSet(
        values=values.astype(np.float32),
        names=list(frame.columns),
        index=pd.DatetimeIndex(frame.index),
        lookback=lb,
    )


@dataclass(frozen=True)
class Scaler:
    """Per-feature standardisation fitted on the training split only.

    Attributes:
        mean: float64 [F] training means.
        std: float64 [F] training standard deviations (floored at 1e-8).
        names: F feature names (checked on load by the caller).
        clip: Transformed values are clipped to ``[-clip, clip]``.
    """

    mean: np.ndarray
    std: np.ndarray
    names: list[str]
    clip: float = field(default=10.0)

    @classmethod
    def fit(cls, values: np.ndarray, names: list[str], clip: float = 10.0) -> Scaler:
        """Fit means and stds on `values` [T, F] (the training rows only).

        Raises:
            DataError: If `values` is not 2-D with len(names) columns, is empty, or non-finite.
        """
        v = np.asarray(values, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != len(names) or v.shape[0] == 0:
            raise DataError(
                f"Scaler.fit needs a non-empty [T, {len(names)}] array, got shape {v.shape}"
            )
        if not np.isfinite(v).all():
            raise DataError("Scaler.fit got NaN/inf values; drop warm-up rows first")
        std = np.maximum(v.std(axis=0), 1e-8)
        return cls(mean=v.mean(axis=0), std=std, names=list(names), clip=float(clip))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardise `values` [..., F] and clip; returns float32."""
        v = np.asarray(values, dtype=np.float64)
        if v.shape[-1] != self.mean.size:
            raise DataError(
                f"Scaler was fitted on {self.mean.size} features {self.names}, "
                f"got {v.shape[-1]} columns"
            )
        z = (v - self.mean) / self.std
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (plain lists and floats)."""
        return {
            "mean": [float(x) for x in self.mean],
            "std": [float(x) for x in self.std],
            "names": list(self.names),
            "clip": float(self.clip),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        """Inverse of ``to_dict``."""
        return cls(
            mean=np.asarray(d["mean"], dtype=np.float64),
            std=np.asarray(d["std"], dtype=np.float64),
            names=list(d["names"]),
            clip=float(d.get("clip", 10.0)),
        )
