"""One stream session: bars in one at a time, a decision per bar, as the backtest walks them.

Features come from the streaming `FeaturePipeline` (equal to the batch features), scaled with
the model's scaler; regime labels from the causal rule of `classify_regimes` run on
O(vol_history) state (`StreamingRegimes`), its minimum-duration filter carried as state. The window
of the last ``env.window`` scaled rows is scored at every position state and the backtest's own
`walk_policy` takes one step from the side the session holds, so a session fed a file from its
first bar makes the decisions `policy_path` makes on that file (tests/serve hold them equal).

A live bar (``limits`` given) is checked before any state changes (out of order, a gap, a price
outside `BarLimits`), then once its features are computed: a feature that was finite and is not
at this bar is refused (`FieldError`) instead of leaving a stale window. `SessionManager` steps a
`clone` and keeps it only when the bar is accepted and logged, so a refused bar leaves the
session exactly as it was. A decision is only ever made from a window ending at this bar.

Per bar the window is a slice of a ring buffer (no stacking), the clone copies the pipeline
with `fork` (not ``copy.deepcopy``: a quarter of the time) and the baseline MLP is scored by
its NumPy forward (`policy.fast`); docs/benchmarks.md has the times.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import talib
from pydantic import BaseModel

from regime_trader.config import RegimeConfig
from regime_trader.envs import spec
from regime_trader.errors import DataError
from regime_trader.features.pipeline import feature_lookback
from regime_trader.features.streaming import FeaturePipeline
from regime_trader.policy.policy import Policy
from regime_trader.regimes.rules import DOWNTREND, OSCILLATING, PLATEAU, UNKNOWN, UPTREND
from regime_trader.serve.decide import Decision, decide_window
from regime_trader.serve.limits import PRICES, BarLimits
from regime_trader.serve.refusals import FieldError, SessionOrderError
from regime_trader.utils.dates import utc

GAP_FACTOR = 10  # default gap limit: this many times the shortest bar spacing seen
__all__ = ["PRICES", "SessionOrderError", "StepResult", "StreamSession", "StreamingRegimes"]


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

    def copy(self) -> StreamingRegimes:
        """An independent copy (the state is two deques and a few numbers)."""
        new = copy.copy(self)
        new._closes, new._vols = self._closes.copy(), self._vols.copy()
        return new


@dataclass(frozen=True)
class StepResult:
    """What one bar did: its features (raw), its regime label and the decision (None while
    the window is filling)."""

    timestamp: pd.Timestamp
    features: np.ndarray
    regime: int
    decision: Decision | None
    bars_seen: int
    model: Policy | None = None  # the model that decided
    prices: tuple[float, float, float, float] = (math.nan,) * 4  # open, high, low, close


def parse_bar(bar: dict[str, Any]) -> tuple[pd.Timestamp, dict[str, float]]:
    """UTC timestamp and prices of a bar; DataError naming the rule broken."""
    ts = utc(bar["timestamp"])
    px = {k: float(bar[k]) for k in PRICES}
    if not all(math.isfinite(v) and v > 0 for v in px.values()):
        raise DataError(f"bar at {ts}: prices must be finite and > 0, got {px}")
    if px["high"] < max(px["open"], px["close"]) or px["low"] > min(px["open"], px["close"]):
        raise DataError(f"bar at {ts}: high/low do not bracket open and close ({px})")
    return ts, px


class StreamSession:
    """State of one named stream: feature pipeline, regime labels, window, side held."""

    def __init__(self, session_id: str, model: Policy, max_gap: pd.Timedelta | None = None) -> None:
        cfg = model.config
        self.session_id = session_id
        self.model = model
        self.max_gap = max_gap
        self.pipeline = FeaturePipeline(cfg.features)
        self.regimes = StreamingRegimes(cfg.regimes)
        self.warmup = feature_lookback(cfg.features)
        # the last env.window scaled rows, stored twice ([W:2W] mirrors [0:W]) so the window,
        # oldest row first, is always one contiguous slice (`window`): no stacking per bar
        self.n_window = cfg.env.window
        self._window = np.zeros((2 * self.n_window, len(model.scaler.names)), np.float32)
        self.n_rows = 0  # scaled rows added so far (the window is full once >= n_window)
        self.label = -1  # the regime label of the last row added
        self.side = 0.0
        self.closes: deque[float] = deque(maxlen=cfg.env.vol_window + 1)  # vol-target size
        self.last_ts: pd.Timestamp | None = None
        self.min_step: pd.Timedelta | None = None
        self.last_close: float | None = None
        self.n_bars = 0
        self._finite: np.ndarray | None = None  # which features were finite at the last bar

    def clone(self) -> StreamSession:
        """An independent copy to step a bar on: the model and configs are shared, the
        feature pipeline is `fork`-ed, every deque and array is copied (about 30 us)."""
        new = copy.copy(self)
        new.pipeline = fork(self.pipeline)
        new.regimes = self.regimes.copy()
        new.closes = self.closes.copy()
        new._window = self._window.copy()
        return new

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
        self,
        bar: dict[str, Any],
        model: Policy | None = None,
        decide: bool = True,
        limits: BarLimits | None = None,
    ) -> StepResult:
        """Add one bar and decide at its close (``decide=False``: replay only).

        ``limits``: a live bar, checked against them and for features that stop being
        finite (`FieldError`); None when replaying the log (those bars were checked)."""
        ts, px = parse_bar(bar)
        if limits is not None:
            limits.check("bar", ts, px, self.last_close)
        self.check(ts)
        model = model or self.model
        raw = self.pipeline.update_values(px, ts)
        self._check_features(raw, live=limits is not None)
        label = self.regimes.update(px["close"])
        self.closes.append(px["close"])
        self._advance(ts)
        self.last_close = px["close"]
        ready_row = self.pipeline.n_seen > self.warmup and bool(np.isfinite(raw).all())
        if ready_row:
            self._add_row(model.scaler.transform(raw), label)
        decision = None
        if decide and ready_row and self.n_rows >= self.n_window:
            size = self.size(model)
            decision = decide_window(model, self.window(), self.label, self.side, size)
            self.side = decision.side
        prices = (px["open"], px["high"], px["low"], px["close"])
        return StepResult(ts, raw, label, decision, self.n_bars, model, prices)

    def _add_row(self, row: np.ndarray, label: int) -> None:
        i = self.n_rows % self.n_window
        self._window[i] = self._window[i + self.n_window] = row
        self.n_rows += 1
        self.label = label

    def window(self) -> np.ndarray:
        """The last ``env.window`` scaled rows ``[W, F]`` float32, oldest first (a view; a
        partial window while fewer rows were added)."""
        end = (self.n_rows - 1) % self.n_window + 1 + self.n_window
        return self._window[end - min(self.n_rows, self.n_window) : end]

    def _check_features(self, raw: np.ndarray, live: bool) -> None:
        """Refuse a live bar that turns a finite feature non-finite (a poisoned window)."""
        finite = np.isfinite(raw)
        lost = None if self._finite is None else self._finite & ~finite
        if live and lost is not None and lost.any():
            names = ", ".join(self.pipeline.names[i] for i in np.flatnonzero(lost))
            raise FieldError(
                "bar",
                f"features {names} would not be finite at this bar (prices the features cannot "
                "use); the session is unchanged",
            )
        self._finite = finite

    def size(self, model: Policy) -> float | None:
        """The env's vol-target size at the last bar (None with full sizing), from the same
        closes and bars per year as the backtest's `bar_sizes` (docs/sizing.md)."""
        env = model.config.env
        if env.sizing == "full":
            return None
        if model.bars_per_year is None:
            raise DataError("this model has no bars_per_year in features.json; re-package it")
        closes = np.fromiter(self.closes, np.float64)
        sizes = spec.sizes_vol_target(
            closes, env.vol_window, env.target_vol, model.bars_per_year, env.max_leverage
        )
        return float(sizes[-1])

    def _advance(self, ts: pd.Timestamp) -> None:
        if self.last_ts is not None:
            gap = ts - self.last_ts
            self.min_step = gap if self.min_step is None else min(self.min_step, gap)
        self.last_ts = ts
        self.n_bars += 1


# immutable values, shared by a fork (frozen configs too: `_frozen_model`)
_SHARED = (int, float, str, bytes, bool, type(None), range, pd.Timestamp, pd.Timedelta, pd.Index)
_ATOMIC = frozenset({int, float, str, bytes, bool, type(None), np.float64, np.int64})


def fork(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """An independent copy of a feature pipeline's state, like ``copy.deepcopy`` but several
    times faster on one (it is copied for every stream bar, `StreamSession.clone`).

    Arrays are copied, TA-Lib stream handles copied with their own ``copy()``, lists, dicts,
    tuples and plain objects of this package member by member; immutable values (numbers,
    strings, timestamps, a pandas ``Index``, frozen configs) are shared. Anything else goes
    through ``copy.deepcopy``, so an unknown kind of state is still copied, only slower.
    ``memo`` keeps objects referenced twice referenced twice in the copy.
    """
    kind = type(value)
    if kind in _ATOMIC:
        return value
    memo = {} if memo is None else memo
    key = id(value)
    if key in memo:
        return memo[key]
    if (kind is np.ndarray and value.dtype != object) or isinstance(value, talib.stream.Stream):
        out: Any = value.copy()
    elif isinstance(value, _SHARED) or _frozen_model(value):
        return value
    elif kind in _CONTAINERS and _atomic(value.values() if kind is dict else value):
        out = value if kind is tuple else value.copy()  # numbers, names, parameters
    elif kind is list:
        out = memo[key] = []
        out.extend(fork(v, memo) for v in value)
    elif kind is tuple:
        out = tuple(fork(v, memo) for v in value)
    elif kind is dict:
        out = memo[key] = {}
        out.update((k, fork(v, memo)) for k, v in value.items())
    elif _plain(kind):
        out = memo[key] = object.__new__(kind)
        out.__dict__.update((k, fork(v, memo)) for k, v in vars(value).items())
    else:
        out = copy.deepcopy(value, memo)
    memo[key] = out
    return out


_CONTAINERS = frozenset({list, tuple, dict})


def _atomic(values: Any) -> bool:
    return all(map(_ATOMIC.__contains__, map(type, values)))


def _frozen_model(value: Any) -> bool:
    return isinstance(value, BaseModel) and bool(value.model_config.get("frozen"))


_HOOKS = ("__deepcopy__", "__copy__", "__reduce__", "__reduce_ex__", "__getstate__", "__slots__")
_PLAIN: dict[type, bool] = {}


def _plain(kind: type) -> bool:
    """A class of this package with a plain ``__dict__`` and no copy hooks of its own."""
    if kind not in _PLAIN:
        own = kind.__module__.startswith("regime_trader.")
        bases = kind.__mro__[:-1]  # every class but object
        _PLAIN[kind] = own and not any(h in vars(k) for k in bases for h in _HOOKS)
    return _PLAIN[kind]
