"""Expected metrics with alert bands learned from validation chunks, rolling live metrics, trend.

The plan's `ModelMonitor` compared each live metric with one expected value and a fixed 20%
deviation: a Sharpe of 0.1 expected fires on 0.13, one of 2.0 survives 1.7, and a drawdown near
zero fires on noise. Here the validation returns are cut into chunks as long as the live window;
each metric's band is ``mean ± k * std`` over those chunks, so a band is as wide as the metric's
own variation over windows of that length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from regime_trader.evaluation.metrics import drawdown, equity_curve

METRICS = ("return", "sharpe", "max_drawdown", "hit_rate", "turnover")
HIGHER_IS_BETTER = {
    "return": True,
    "sharpe": True,
    "max_drawdown": False,
    "hit_rate": True,
    "turnover": False,
    "latency_p99_ms": False,
    "regime_shift": False,
}


def window_metrics(
    returns: np.ndarray, positions: np.ndarray, bars_per_year: float
) -> dict[str, float]:
    """Metrics of one window: total return, annualised Sharpe, max drawdown (a positive
    fraction), hit rate (share of positive returns among bars in the market) and turnover
    (mean absolute position change per bar)."""
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
    }


@dataclass(frozen=True)
class Band:
    """Expected value and alert band of one metric."""

    metric: str
    mean: float
    std: float
    lo: float
    hi: float
    n_chunks: int

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi


def expected_bands(
    returns: np.ndarray,
    positions: np.ndarray,
    *,
    window: int,
    bars_per_year: float,
    k: float = 2.0,
) -> dict[str, Band]:
    """Bands ``mean ± k * std`` of each metric over the non-overlapping ``window``-bar chunks of
    the validation path (at least 2 chunks needed; raises ValueError otherwise)."""
    r, p = np.asarray(returns, np.float64), np.asarray(positions, np.float64)
    n = len(r) // window
    if n < 2:
        raise ValueError(f"need >= 2 validation chunks of {window} bars, got {len(r)} bars")
    rows = [
        window_metrics(
            r[i * window : (i + 1) * window], p[i * window : (i + 1) * window], bars_per_year
        )
        for i in range(n)
    ]
    bands = {}
    for m in METRICS:
        v = np.array([row[m] for row in rows])
        mu, sd = float(v.mean()), float(v.std(ddof=1))
        bands[m] = Band(m, mu, sd, mu - k * sd, mu + k * sd, n)
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
