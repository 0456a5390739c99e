"""Strong rule baselines: what a skeptical quant would try before any RL (docs/evaluation.md).

Each is a position function with the signature of
:data:`regime_trader.evaluation.baselines.BASELINES` -- ``fn(market, first, last)`` returns
the notional held after each decision bar ``first..last`` -- and goes through the same
accounting (next-open fills, costs on traded notional). All are causal: the position decided
at bar t uses closes ``<= t`` only (tested by perturbing every bar after t).

* ``sma_200`` -- long while the close is above its 200-bar simple moving average, else flat
  (Faber 2007);
* ``vol_target`` -- always long, sized ``min(max_leverage, 10% / realised vol)`` with the
  annualised vol of the last 20 log returns (Moreira & Muir 2017);
* ``sma_200_vol_target`` -- the 200-bar filter times the vol-target size;
* ``tsmom_12m`` -- long while the 252-bar return is positive, else flat (Moskowitz, Ooi &
  Pedersen 2012);
* ``markov_switching`` -- a two-state Markov-switching model of daily log returns fitted on
  the bars *before* the decision period only; in while the filtered (never smoothed)
  probability of the higher-mean state exceeds 0.5 (Hamilton 1989).

:func:`best_simple_rule` names the strong rule with the best mean Sharpe in tidy rows (the
report's headline comparison).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from regime_trader.envs import spec
from regime_trader.envs.market import MarketData

PositionFn = Callable[[MarketData, int, int], np.ndarray]

__all__ = [
    "STRONG_BASELINES",
    "best_simple_rule",
    "markov_switching",
    "sma_200",
    "sma_200_vol_target",
    "strong_baseline_positions",
    "tsmom_12m",
    "vol_target",
    "vol_target_sizes",
]


def _check_range(market: MarketData, first: int, last: int) -> None:
    if not 0 <= first <= last < len(market):
        raise ValueError(
            f"decision bars first={first}, last={last} must satisfy 0 <= first <= last < "
            f"{len(market)} (the market's bars)"
        )


def _above_sma(close: np.ndarray, period: int) -> np.ndarray:
    """``close[t] > SMA(close, period)[t]``; False while the average has too few bars."""
    if period < 2:
        raise ValueError(f"period must be >= 2 bars, got {period}")
    sma = talib.SMA(np.asarray(close, np.float64), timeperiod=period)
    return np.nan_to_num(close, nan=-np.inf) > np.nan_to_num(sma, nan=np.inf)


def sma_200(market: MarketData, first: int, last: int, period: int = 200) -> np.ndarray:
    """Long (1) while the decision bar's close is above its ``period``-bar SMA, else flat.

    The average runs over the whole series up to each bar (a period's first decisions see a
    full history); bars with fewer than ``period`` closes behind them are flat.
    """
    _check_range(market, first, last)
    return _above_sma(market.close, period)[first : last + 1].astype(np.float64)


def vol_target_sizes(
    close: np.ndarray,
    *,
    target: float = 0.10,
    window: int = 20,
    max_leverage: float = 1.0,
    periods_per_year: float = 252.0,
) -> np.ndarray:
    """``min(max_leverage, target / vol[t])`` per bar; ``vol[t]`` the sample std (ddof 1) of
    the last ``window`` log returns ending at bar t times ``sqrt(periods_per_year)``.

    Bars with fewer than ``window`` returns behind them get ``min(1, max_leverage)``
    (:func:`regime_trader.envs.spec.sizes_vol_target`, the env's own sizing).
    """
    return spec.sizes_vol_target(close, window, target, periods_per_year, max_leverage)


def _bars_per_year(market: MarketData) -> float:
    """Bars per year of the market's calendar (timestamps only, never prices)."""
    from regime_trader.policy.metrics import bars_per_year  # policy imports evaluation late

    return bars_per_year(market.index) if len(market) > 1 else 252.0


def vol_target(
    market: MarketData,
    first: int,
    last: int,
    target: float = 0.10,
    window: int = 20,
    max_leverage: float = 1.0,
) -> np.ndarray:
    """Always long, sized to an annualised volatility of ``target`` (see
    :func:`vol_target_sizes`); fractional sizes, rebalanced (and charged) every bar."""
    _check_range(market, first, last)
    bpy = _bars_per_year(market)
    sizes = vol_target_sizes(
        market.close, target=target, window=window, max_leverage=max_leverage, periods_per_year=bpy
    )
    return sizes[first : last + 1]


def sma_200_vol_target(
    market: MarketData, first: int, last: int, period: int = 200, target: float = 0.10
) -> np.ndarray:
    """The ``sma_200`` filter times the ``vol_target`` size: in above the average, sized."""
    return sma_200(market, first, last, period) * vol_target(market, first, last, target)


def tsmom_12m(market: MarketData, first: int, last: int, lookback: int = 252) -> np.ndarray:
    """Long while ``close[t] / close[t - lookback] > 1`` (12-month time-series momentum),
    else flat; flat without ``lookback`` bars of history."""
    _check_range(market, first, last)
    if lookback < 1:
        raise ValueError(f"lookback must be >= 1 bar, got {lookback}")
    close = np.asarray(market.close, np.float64)
    up = np.zeros(close.size, dtype=bool)
    up[lookback:] = close[lookback:] > close[:-lookback]
    return up[first : last + 1].astype(np.float64)


def markov_switching(
    market: MarketData,
    first: int,
    last: int,
    window: int = 1,
    min_fit_bars: int = 250,
) -> np.ndarray:
    """In (1) while the filtered probability of the bull state exceeds 0.5, else flat.

    A two-state ``MarkovRegression`` (switching mean and variance) of the ``window``-bar mean
    log return (``regimes.markov``; 1 = daily log returns, the best of 1, 5, 10 and 20 on the
    shared daily series) is fitted on the rows before ``first`` only, then run
    through the Hamilton filter from the first row with those parameters fixed: the
    probability at bar t conditions on closes ``<= t``. The bull state is the one with the
    higher fitted mean. With fewer than ``min_fit_bars`` rows before ``first`` (a synthetic
    scenario) it fits on the first ``min_fit_bars`` rows instead and stays flat until their
    last bar, so no decision uses a model fitted on later bars.

    Args:
        market: Bars of the series (the rows before ``first`` are the fitting sample).
        first: First decision bar.
        last: Last decision bar.
        window: Bars averaged in the model's observation (1 = raw daily returns).
        min_fit_bars: Fewest rows to fit on.

    Returns:
        ``[last - first + 1]`` positions in {0, 1}; all flat when the series is too short
        to fit at all.
    """
    from regime_trader.regimes.markov import fit_markov_detector  # loads statsmodels

    _check_range(market, first, last)
    fit_end = max(first, min_fit_bars)
    out = np.zeros(last - first + 1)
    if fit_end > len(market) or fit_end - window < 100:  # 50 observations per state
        return out
    frame = pd.DataFrame({"close": market.close}, index=market.index)
    detector = fit_markov_detector(frame.iloc[:fit_end], k_regimes=2, window=window)
    p_bull = detector.regime_probabilities(frame.iloc[: last + 1])["uptrend"].to_numpy()
    inside = np.nan_to_num(p_bull, nan=0.0) > 0.5
    inside[: fit_end - 1] = False  # decisions before the fitting sample's last bar stay flat
    return inside[first : last + 1].astype(np.float64)


STRONG_BASELINES: dict[str, PositionFn] = {
    "sma_200": sma_200,
    "vol_target": vol_target,
    "sma_200_vol_target": sma_200_vol_target,
    "tsmom_12m": tsmom_12m,
    "markov_switching": markov_switching,
}
"""The strong rules by policy name; every one is ``fn(market, first, last) -> positions``."""


def strong_baseline_positions(market: MarketData, first: int, last: int) -> dict[str, np.ndarray]:
    """Positions of every strong rule over decision bars ``first..last`` (for ``simulate``)."""
    return {name: fn(market, first, last) for name, fn in STRONG_BASELINES.items()}


def best_simple_rule(rows: pd.DataFrame, *, value: str = "sharpe") -> str:
    """The strong rule with the highest mean ``value`` over the whole-period rows.

    Args:
        rows: Tidy rows (``policy`` and ``value`` columns; ``regime`` filtered to "all"
            when present). Means are over (series, window) cells, seeds averaged first.
        value: Score column.

    Returns:
        The winning policy name (ties: registry order).

    Raises:
        ValueError: When no row belongs to a strong rule, or a column is missing.
    """
    missing = [c for c in ("policy", value) if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack column(s) {missing}; have {list(rows.columns)}")
    sub = rows[rows["policy"].isin(list(STRONG_BASELINES))]
    if "regime" in sub.columns:
        sub = sub[sub["regime"] == "all"]
    if sub.empty:
        raise ValueError(
            f"no rows for any strong rule ({', '.join(STRONG_BASELINES)}); add their "
            "positions with strong_baseline_positions before scoring"
        )
    cells = [c for c in ("series", "window") if c in sub.columns]
    per_cell = sub.groupby(["policy", *cells], sort=False)[value].mean()
    means = per_cell.groupby(level="policy", sort=False).mean()
    order = [name for name in STRONG_BASELINES if name in means.index]
    return str(means.reindex(order).idxmax())
