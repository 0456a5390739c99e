"""Long-horizon causal features for daily bars (``features.long_horizon``, docs/features.md).

Trend and volatility at the horizons where daily markets show persistence (months, a year),
all scale-free and causal (row t uses closes <= t):

* ``sma_dist_{n}`` -- ``log(close / SMA(close, n))`` for n in ``sma_periods`` (50, 200):
  how far above or below its moving average the market trades;
* ``mom_{lag}`` -- ``log(close[t] / close[t - lag])`` for lag in ``momentum_lags``
  (63, 126, 252: a quarter, half a year, a year);
* ``vol_rel_{w}`` -- ``vol_{vol_window}[t] / mean(vol_{vol_window} over the last w bars)``
  with ``w = vol_level_window`` (252): today's realised volatility against its one-year level.

Each group is switched off by an empty tuple (``sma_periods: []``) or ``vol_level_window: 0``;
``long_horizon: false`` (the default) switches them all off, so existing runs keep their
columns. The lookback of each column (``long_horizon_lookbacks``) enters ``feature_lookback``:
with the defaults it is 271 rows (``vol_rel_252``: 20 + 252 - 1), against 27 without.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regime_trader.config import FeatureConfig
from regime_trader.features.trend import _as_float64

__all__ = [
    "long_horizon_columns",
    "long_horizon_lookbacks",
    "sma_distance",
    "vol_relative",
]


def sma_distance(close: np.ndarray, period: int) -> np.ndarray:
    """``log(close / SMA(close, period))``; NaN on the first ``period - 1`` rows."""
    c = _as_float64(close)
    sma = pd.Series(c).rolling(period, min_periods=period).mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(c / sma)


def vol_relative(close: np.ndarray, vol_window: int, level_window: int) -> np.ndarray:
    """Realised vol over ``vol_window`` returns divided by its mean over ``level_window``
    bars; NaN on the first ``vol_window + level_window - 1`` rows (0/0 gives 1: a market
    flat for a year is at its own level)."""
    from regime_trader.features.indicators import realised_vol  # indicators imports this

    vol = realised_vol(close, vol_window)
    level = pd.Series(vol).rolling(level_window, min_periods=level_window).mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = vol / level
    out[(vol == 0) & (level == 0)] = 1.0
    return out


def long_horizon_lookbacks(cfg: FeatureConfig) -> dict[str, int]:
    """Warm-up rows of every long-horizon column of ``cfg`` by name (empty when off)."""
    if not cfg.long_horizon:
        return {}
    out = {f"sma_dist_{n}": n - 1 for n in cfg.sma_periods}
    out.update({f"mom_{lag}": lag for lag in cfg.momentum_lags})
    if cfg.vol_level_window:
        out[f"vol_rel_{cfg.vol_level_window}"] = cfg.vol_window + cfg.vol_level_window - 1
    return out


def long_horizon_columns(close: np.ndarray, cfg: FeatureConfig) -> list[np.ndarray]:
    """The long-horizon columns of ``cfg``, in ``long_horizon_lookbacks`` order."""
    if not cfg.long_horizon:
        return []
    from regime_trader.features.indicators import log_return

    cols = [sma_distance(close, n) for n in cfg.sma_periods]
    cols += [log_return(close, lag) for lag in cfg.momentum_lags]
    if cfg.vol_level_window:
        cols.append(vol_relative(close, cfg.vol_window, cfg.vol_level_window))
    return cols
