"""Thin, scale-free wrappers around TA-Lib and simple return statistics.

Every wrapper returns float64 arrays of the input's length with NaN during warm-up, and has a
matching ``*_lookback`` giving the number of leading warm-up rows. TA-Lib lookbacks come from
``talib.abstract.Function(name).lookback`` with the same parameters, so they stay correct
if TA-Lib changes. Outputs are bounded oscillators divided by 100, ratios, or log returns:
no price level enters a feature.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import talib
from talib import abstract

from regime_trader.config import FeatureConfig
from regime_trader.features.long_horizon import long_horizon_lookbacks
from regime_trader.features.trend import _as_float64, linreg_slope_frac, trend_persistence

SMA_MATYPE = talib.MA_Type.SMA  # TA-Lib matype of a simple moving average (code 0)


@lru_cache(maxsize=256)
def _talib_lookback(name: str, params: tuple[tuple[str, float], ...]) -> int:
    """Warm-up rows of TA-Lib function `name` with parameters `params`."""
    fn = abstract.Function(name)  # type: ignore[attr-defined]  # missing from talib's stubs
    fn.parameters = dict(params)
    return int(fn.lookback)


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's ADX divided by 100 (in [0, 1])."""
    out = talib.ADX(_as_float64(high), _as_float64(low), _as_float64(close), timeperiod=period)
    return out / 100.0


def adx_lookback(period: int) -> int:
    """Warm-up rows of :func:`adx` (``2 * period - 1``)."""
    return _talib_lookback("ADX", (("timeperiod", period),))


def slope(close: np.ndarray, period: int) -> np.ndarray:
    """Linear-regression slope per bar as a fraction of the close."""
    return linreg_slope_frac(close, period)


def slope_lookback(period: int) -> int:
    """Warm-up rows of :func:`slope` (``period - 1``)."""
    return _talib_lookback("LINEARREG_SLOPE", (("timeperiod", period),))


def persistence(close: np.ndarray, window: int) -> np.ndarray:
    """Trend persistence divided by `window` (share of recent moves in today's direction)."""
    return trend_persistence(close, window) / float(window)


def persistence_lookback(window: int) -> int:
    """Warm-up rows of :func:`persistence` (``window``: the first diff is undefined)."""
    return int(window)


def rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI divided by 100 (in [0, 1])."""
    return talib.RSI(_as_float64(close), timeperiod=period) / 100.0


def rsi_lookback(period: int) -> int:
    """Warm-up rows of :func:`rsi` (``period``)."""
    return _talib_lookback("RSI", (("timeperiod", period),))


def stoch(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, k: int, slow: int, d: int
) -> tuple[np.ndarray, np.ndarray]:
    """Slow stochastic %K and %D (simple moving averages) divided by 100.

    Args:
        high: High prices [T].
        low: Low prices [T].
        close: Close prices [T].
        k: Fast %K period.
        slow: Slow %K smoothing period.
        d: %D period.

    Returns:
        ``(stoch_k, stoch_d)``, each float64 [T] in [0, 1].
    """
    sk, sd = talib.STOCH(
        _as_float64(high),
        _as_float64(low),
        _as_float64(close),
        fastk_period=k,
        slowk_period=slow,
        slowk_matype=SMA_MATYPE,
        slowd_period=d,
        slowd_matype=SMA_MATYPE,
    )
    return sk / 100.0, sd / 100.0


def stoch_lookback(k: int, slow: int, d: int) -> int:
    """Warm-up rows of :func:`stoch` (``(k - 1) + (slow - 1) + (d - 1)``)."""
    params = (
        ("fastk_period", k),
        ("slowk_period", slow),
        ("slowk_matype", 0),
        ("slowd_period", d),
        ("slowd_matype", 0),
    )
    return _talib_lookback("STOCH", params)


def bbands(close: np.ndarray, period: int, nstd: float) -> tuple[np.ndarray, np.ndarray]:
    """Bollinger band width and position.

    width = (upper - lower) / middle; position = (close - lower) / (upper - lower), set to
    0.5 where the bands have (numerically) zero width: a flat window.

    Args:
        close: Close prices [T].
        period: Moving-average window.
        nstd: Band half-width in standard deviations.

    Returns:
        ``(width, position)``, each float64 [T].
    """
    c = _as_float64(close)
    upper, middle, lower = talib.BBANDS(
        c, timeperiod=period, nbdevup=nstd, nbdevdn=nstd, matype=SMA_MATYPE
    )
    span = upper - lower
    # Rounding in TA-Lib's running sums can leave a flat window with a tiny non-zero span.
    wide = span > 1e-12 * np.abs(middle)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = span / middle
        pos = np.where(wide, (c - lower) / np.where(wide, span, 1.0), 0.5)
    pos[np.isnan(span)] = np.nan
    return width, pos


def bbands_lookback(period: int, nstd: float) -> int:
    """Warm-up rows of :func:`bbands` (``period - 1``)."""
    params = (("timeperiod", period), ("nbdevup", nstd), ("nbdevdn", nstd), ("matype", 0))
    return _talib_lookback("BBANDS", params)


def log_return(close: np.ndarray, lag: int) -> np.ndarray:
    """Log return over `lag` bars: ``log(close[t] / close[t - lag])``, NaN for t < lag."""
    c = _as_float64(close)
    out = np.full(c.size, np.nan)
    if lag < c.size:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[lag:] = np.log(c[lag:] / c[:-lag])
    return out


def log_return_lookback(lag: int) -> int:
    """Warm-up rows of :func:`log_return` (``lag``)."""
    return int(lag)


def realised_vol(close: np.ndarray, window: int) -> np.ndarray:
    """Rolling sample std (ddof=1) of 1-bar log returns over `window` bars (per-bar units)."""
    r = pd.Series(log_return(close, 1))
    return r.rolling(window, min_periods=window).std(ddof=1).to_numpy(dtype=np.float64)


def realised_vol_lookback(window: int) -> int:
    """Warm-up rows of :func:`realised_vol` (``window``: that many returns need one more bar)."""
    return int(window)


def log_range(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """One-bar log range ``log(high / low)`` (>= 0 on valid bars); no warm-up."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(_as_float64(high) / _as_float64(low))


def log_range_lookback() -> int:
    """Warm-up rows of :func:`log_range` (0)."""
    return 0


def lookbacks(cfg: FeatureConfig = FeatureConfig()) -> dict[str, int]:
    """Warm-up rows of every feature of `cfg`, by feature name (see ``feature_names``).

    Args:
        cfg: Feature periods.

    Returns:
        Mapping from feature name to its number of leading warm-up rows.
    """
    out = {
        f"adx_{cfg.adx_period}": adx_lookback(cfg.adx_period),
        f"slope_{cfg.slope_period}": slope_lookback(cfg.slope_period),
        f"persistence_{cfg.persistence_window}": persistence_lookback(cfg.persistence_window),
        f"rsi_{cfg.rsi_period}": rsi_lookback(cfg.rsi_period),
        "stoch_k": stoch_lookback(cfg.stoch_k, cfg.stoch_slow, cfg.stoch_d),
        "stoch_d": stoch_lookback(cfg.stoch_k, cfg.stoch_slow, cfg.stoch_d),
        f"bb_width_{cfg.bb_period}": bbands_lookback(cfg.bb_period, cfg.bb_std),
        f"bb_pos_{cfg.bb_period}": bbands_lookback(cfg.bb_period, cfg.bb_std),
    }
    for lag in cfg.return_lags:
        out[f"ret_{lag}"] = log_return_lookback(lag)
    out[f"vol_{cfg.vol_window}"] = realised_vol_lookback(cfg.vol_window)
    out["range_1"] = log_range_lookback()
    out.update(long_horizon_lookbacks(cfg))  # empty unless cfg.long_horizon
    return out


def lookback(cfg: FeatureConfig = FeatureConfig()) -> int:
    """Warm-up rows of the whole feature set: the largest lookback of any feature.

    Args:
        cfg: Feature periods.

    Returns:
        Number of leading rows to drop so that every feature is defined afterwards.
    """
    return max(lookbacks(cfg).values())
