"""One stream session: bars in one at a time, a decision per bar, as the backtest walks them.

Features come from the streaming `FeaturePipeline` (equal to the batch features), scaled with
the model's scaler; regime labels from the causal rule of `classify_regimes` run on
O(vol_history) state (`StreamingRegimes`), its minimum-duration filter carried as state. The window
of the last ``env.window`` scaled rows is scored at every position state and the backtest's own
`walk_policy` takes one step from the side the session holds, so a session fed a file from its
first bar makes the decisions `policy_path` makes on that file (tests/serve hold them equal).

A bar is checked in full before any state changes: a refused bar (out of order, a gap, a bad
price) leaves the session exactly as it was.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import talib

from regime_trader.config import RegimeConfig
from regime_trader.errors import DataError
from regime_trader.features.pipeline import feature_lookback
from regime_trader.features.streaming import FeaturePipeline
from regime_trader.regimes.rules import DOWNTREND, OSCILLATING, PLATEAU, UNKNOWN, UPTREND
from regime_trader.serve.decide import Decision, decide_window

GAP_FACTOR = 10  # default gap limit: this many times the shortest bar spacing seen
PRICES = ("open", "high", "low", "close")


class SessionOrderError(DataError):
    """A bar out of order or after a gap: refused, the session unchanged (HTTP 409)."""


class StreamingRegimes:
    """Causal rule labels bar by bar: `classify_regimes`'s rule on O(vol_history) state.

    Slope: TA-Lib ``LINEARREG_SLOPE`` on the last ``window`` closes (each window is computed
    afresh by TA-Lib, so it equals the batch value); volatility: ``np.std(ddof=1)`` of the last
    ``window`` log returns (the batch's pandas rolling std can differ in the last bits);
    its median over the last ``vol_history`` values; then `apply_min_duration` as state.
    """

    def __init__(self, cfg: RegimeConfig) -> None:
        self.cfg = cfg
        self.k = cfg.min_duration
        self._closes: deque[float] = deque(maxlen=cfg.window + 1)
        self._vols: deque[float] = deque(maxlen=cfg.vol_history)
        self._prev_raw, self._run, self._after_unknown = UNKNOWN, 0, True
        self.label = UNKNOWN

    def update(self, close: float) -> int:
        """Label of the bar just closed (``-1`` during the warm-up)."""
        self._closes.append(close)
        return self._filter(self._raw())

    def _raw(self) -> int:
        cfg, w = self.cfg, self.cfg.window
        if len(self._closes) <= w:
            return UNKNOWN
        c = np.fromiter(self._closes, np.float64, len(self._closes))
        with np.errstate(divide="ignore", invalid="ignore"):
            vol = float(np.std(np.log(c[1:] / c[:-1]), ddof=1))
        self._vols.append(vol)
        if len(self._vols) < cfg.vol_history:
            return UNKNOWN
        slope = float(talib.LINEARREG_SLOPE(c[1:], timeperiod=w)[-1]) / c[-1]
        med = float(np.median(np.fromiter(self._vols, np.float64, len(self._vols))))
        with np.errstate(divide="ignore", invalid="ignore"):
            trend = 0.0 if slope == 0 and vol == 0 else np.float64(slope) / vol
            ratio = 0.0 if vol == 0 and med == 0 else np.float64(vol) / med
        if not np.isfinite(trend) or np.isnan(ratio):
            return UNKNOWN
        thr = cfg.trend_threshold
        if trend > thr and ratio > cfg.min_vol_ratio:
            return UPTREND
        if trend < -thr and ratio > cfg.min_vol_ratio:
            return DOWNTREND
        if abs(trend) <= thr:
            return PLATEAU if ratio < cfg.vol_threshold else OSCILLATING
        return UNKNOWN

    def _filter(self, raw: int) -> int:
        """`apply_min_duration` one bar at a time."""
        if raw != self._prev_raw:
            self._after_unknown = self._prev_raw < 0
            self._run = 0
        self._run += 1
        self._prev_raw = raw
        if raw < 0 or self._run >= self.k or self._after_unknown:
            self.label = raw
        return self.label


@dataclass(frozen=True)
class StepResult:
    """What one bar did: its features (raw), its regime label and the decision (None while
    the window is filling)."""

    timestamp: pd.Timestamp
    features: np.ndarray
    regime: int
    decision: Decision | None
    bars_seen: int
    model: Any = None  # the model that decided


def parse_bar(bar: dict[str, Any]) -> tuple[pd.Timestamp, dict[str, float]]:
    """UTC timestamp and prices of a bar; DataError naming the rule broken."""
    ts = pd.Timestamp(bar["timestamp"])
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    px = {k: float(bar[k]) for k in PRICES}
    if not all(math.isfinite(v) and v > 0 for v in px.values()):
        raise DataError(f"bar at {ts}: prices must be finite and > 0, got {px}")
    if px["high"] < max(px["open"], px["close"]) or px["low"] > min(px["open"], px["close"]):
        raise DataError(f"bar at {ts}: high/low do not bracket open and close ({px})")
    return ts, px


class StreamSession:
    """State of one named stream: feature pipeline, regime labels, window, side held."""

    def __init__(self, session_id: str, model: Any, max_gap: pd.Timedelta | None = None):
        cfg = model.config
        self.session_id = session_id
        self.model = model
        self.max_gap = max_gap
        self.pipeline = FeaturePipeline(cfg.features)
        self.regimes = StreamingRegimes(cfg.regimes)
        self.warmup = feature_lookback(cfg.features)
        self.rows: deque[np.ndarray] = deque(maxlen=cfg.env.window)
        self.labels: deque[int] = deque(maxlen=cfg.env.window)
        self.side = 0.0
        self.last_ts: pd.Timestamp | None = None
        self.min_step: pd.Timedelta | None = None
        self.n_bars = 0

    def check(self, ts: pd.Timestamp) -> None:
        """Refuse a bar that does not follow the last one or leaves a gap (no state change)."""
        last = self.last_ts
        if last is None:
            return
        if ts <= last:
            raise SessionOrderError(
                f"session '{self.session_id}': bar at {ts} is out of order; the last bar was "
                f"at {last} (send bars oldest first, each once)"
            )
        limit = self.max_gap or (None if self.min_step is None else GAP_FACTOR * self.min_step)
        if limit is not None and ts - last > limit:
            raise SessionOrderError(
                f"session '{self.session_id}': gap of {ts - last} after the bar at {last} "
                f"(limit {limit}); send the missing bars, or start a new session"
            )

    def step(
        self, bar: dict[str, Any], model: Any | None = None, decide: bool = True
    ) -> StepResult:
        """Add one bar (checked first) and decide at its close (``decide=False``: replay only)."""
        ts, px = parse_bar(bar)
        self.check(ts)
        model = model or self.model
        raw = self.pipeline.update_values(px, ts)
        label = self.regimes.update(px["close"])
        self._advance(ts)
        ready_row = self.pipeline.n_seen > self.warmup and np.isfinite(raw).all()
        if ready_row:
            self.rows.append(model.scaler.transform(raw))
            self.labels.append(label)
        decision = None
        if decide and len(self.rows) == self.rows.maxlen:
            decision = decide_window(model, np.stack(self.rows), self.labels[-1], self.side)
            self.side = decision.side
        return StepResult(ts, raw, label, decision, self.n_bars, model)

    def _advance(self, ts: pd.Timestamp) -> None:
        if self.last_ts is not None:
            gap = ts - self.last_ts
            self.min_step = gap if self.min_step is None else min(self.min_step, gap)
        self.last_ts = ts
        self.n_bars += 1
