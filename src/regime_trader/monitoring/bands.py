"""Rolling live metrics, their alarm bands learned from validation, and the trend.

The plan's `ModelMonitor` compared each live metric with one expected value and a fixed 20%
deviation: a Sharpe of 0.1 expected fires on 0.13, one of 2.0 survives 1.7, and a drawdown near
zero fires on noise. Here each metric is computed over every window of the live length in the
model's validation path (stride one), and the band is the range of those values widened by a
margin (`calibrate.calibrated_range`): replaying the validation period raises no band alert,
and a live window alarms only when it is worse than every validation window of its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from regime_trader.monitoring.calibrate import MARGIN, calibrated_range
from regime_trader.policy.metrics import drawdown, equity_curve

METRICS = ("return", "sharpe", "max_drawdown", "hit_rate", "turnover", "volatility")
HIGHER_IS_BETTER = {
    "return": True,
    "sharpe": True,
    "max_drawdown": False,
    "hit_rate": True,
    "turnover": False,
    "volatility": False,
    "latency_p99_ms": False,
    "regime_shift": False,
}


def window_metrics(
    returns: np.ndarray, positions: np.ndarray, bars_per_year: float
) -> dict[str, float]:
    """Metrics of one window: total return, annualised Sharpe, max drawdown (a positive
    fraction), hit rate (share of positive returns among bars in the market), turnover
    (mean absolute position change per bar, from flat) and annualised volatility."""
    r = np.asarray(returns, dtype=np.float64)
    p = np.asarray(positions, dtype=np.float64)
    sd = r.std(ddof=1) if r.size > 1 else 0.0
    held = p != 0
    return {
        "return": float(np.prod(1.0 + r) - 1.0),
        "sharpe": float(r.mean() / sd * np.sqrt(bars_per_year)) if sd > 1e-12 else 0.0,
        "max_drawdown": float(drawdown(equity_curve(r)).max()) if r.size else 0.0,
        "hit_rate": float((r[held] > 0).mean()) if held.any() else 0.0,
        "turnover": float(np.abs(np.diff(np.r_[0.0, p])).mean()) if p.size else 0.0,
        "volatility": float(sd * np.sqrt(bars_per_year)),
    }


@dataclass(frozen=True)
class Band:
    """A metric's spread over the validation windows and its alarm band ``[lo, hi]``."""

    metric: str
    mean: float
    std: float
    lo: float
    hi: float
    n_chunks: int  # validation windows the band was learned from

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the band."""
        return self.lo <= value <= self.hi


def sliding_metrics(
    returns: np.ndarray, positions: np.ndarray, *, window: int, bars_per_year: float
) -> dict[str, np.ndarray]:
    """`window_metrics` of every ``window``-bar window (stride one), metric -> ``[N]``."""
    r, p = np.asarray(returns, np.float64), np.asarray(positions, np.float64)
    rows = [
        window_metrics(r[i : i + window], p[i : i + window], bars_per_year)
        for i in range(len(r) - window + 1)
    ]
    return {m: np.array([row[m] for row in rows]) for m in METRICS}


def expected_bands(
    returns: np.ndarray,
    positions: np.ndarray,
    *,
    window: int,
    bars_per_year: float,
    margin: float = MARGIN,
) -> dict[str, Band]:
    """The band of each metric over every ``window``-bar window of the validation path.

    Raises:
        ValueError: fewer than ``2 * window`` validation bars.
    """
    if len(returns) < 2 * window:
        raise ValueError(f"need >= 2 validation windows of {window} bars, got {len(returns)} bars")
    values = sliding_metrics(returns, positions, window=window, bars_per_year=bars_per_year)
    bands = {}
    for m, v in values.items():
        lo, hi = calibrated_range(v[:, None], margin)
        bands[m] = Band(
            m, float(v.mean()), float(v.std(ddof=1)), float(lo[0]), float(hi[0]), len(v)
        )
    return bands


@dataclass(frozen=True)
class Trend:
    """Least-squares trend of a metric over its recent records (the plan's trend)."""

    metric: str
    slope: float
    pvalue: float
    n: int
    is_improving: bool


def trend(metric: str, values: list[float] | np.ndarray) -> Trend | None:
    """``scipy.stats.linregress`` slope of ``values`` against their order; None under 3 values.

    ``is_improving`` reads the slope's sign the metric's way (a falling drawdown improves)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 3:
        return None
    fit = stats.linregress(np.arange(v.size), v)
    slope = float(fit.slope)
    better = slope > 0 if HIGHER_IS_BETTER.get(metric, True) else slope < 0
    return Trend(metric, slope, float(fit.pvalue), int(v.size), bool(better))
