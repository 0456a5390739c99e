"""`ModelMonitor`: the plan's monitor with calibrated alarm levels, rate-limited alerts, gauges.

Feed it one record per decision (``record``) and each step's realised return once it is known
(``add_return``); every ``check_every`` decisions it computes the rolling metrics over the last
``window`` returns against the validation bands, the drift of the last ``drift_window``
feature rows and the regime mix of the last ``long_window`` labels against the training
references, looks for action collapse and slow decisions, stores everything in SQLite and
sends the alerts through the sink's per-kind cooldown (docs/monitoring.md lists every check).
`monitor_gauges` gives the latest values as flat gauges for a ``/metrics`` endpoint.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import asdict

import numpy as np

from regime_trader.monitoring.alerts import KINDS, Alert, AlertSink, AlertSummary
from regime_trader.monitoring.bands import HIGHER_IS_BETTER, Band, Trend, trend, window_metrics
from regime_trader.monitoring.expectations import Expectations, MonitorConfig, top_share
from regime_trader.monitoring.store import MonitorStore
from regime_trader.regimes import REGIME_NAMES

__all__ = ["Expectations", "ModelMonitor", "MonitorConfig", "metric_trend", "monitor_gauges"]


def _is_worse(metric: str, value: float, band: Band) -> bool:
    """Outside the band on the harmful side (both sides for turnover: a change of behaviour)."""
    if metric == "turnover":
        return not band.contains(value)
    if HIGHER_IS_BETTER.get(metric, True):
        return value < band.lo
    return value > band.hi


class ModelMonitor:
    """Rolling checks of one served model; records in ``store``, alerts through ``sink``."""

    def __init__(
        self,
        store: MonitorStore,
        expected: Expectations,
        sink: AlertSink | None = None,
        cfg: MonitorConfig = MonitorConfig(),
        model_version: str = "",
    ) -> None:
        self.store, self.expected, self.cfg = store, expected, cfg
        self.sink = sink or AlertSink()
        self.model_version = model_version
        self.step = 0
        self.alerts: list[Alert] = []
        self.latest: dict[str, float] = {}  # the last check's values (`monitor_gauges`)
        self._returns: deque[float] = deque(maxlen=cfg.window)
        self._positions: deque[float] = deque(maxlen=cfg.window)
        self._held: deque[float] = deque(maxlen=cfg.long_window)
        self._regimes: deque[int] = deque(maxlen=cfg.long_window)
        self._features: deque[np.ndarray] = deque(maxlen=cfg.drift_window)
        self._latency: deque[float] = deque(maxlen=1000)
        self._last_ts = ""
        store.set_info("expectations", expected.to_json())
        store.set_info("config", json.dumps(asdict(cfg)))

    def record(
        self,
        timestamp: str,
        *,
        action: int,
        position: float,
        regime: int = -1,
        latency_ms: float = float("nan"),
        features: np.ndarray | None = None,
    ) -> list[Alert]:
        """One decision; runs the checks every ``check_every`` records; the alerts sent."""
        self.step += 1
        self._last_ts = str(timestamp)
        row = (self.step, self._last_ts, self.model_version, int(action), float(position))
        self.store.add_decision((*row, None, int(regime), float(latency_ms)))
        self._held.append(float(position))
        self._regimes.append(int(regime))
        if np.isfinite(latency_ms):
            self._latency.append(float(latency_ms))
        if features is not None:
            # float32, as `FeatureSet` stores the training rows: a discrete feature (e.g.
            # persistence k/20) must land on the same side of a bin edge in both samples
            self._features.append(np.asarray(features, np.float32))
        if self.step % self.cfg.check_every == 0:
            return self.check()
        return []

    def add_return(self, step: int, ret: float, position: float) -> None:
        """The realised return of decision ``step`` (holding ``position``)."""
        self.store.set_return(step, float(ret))
        self._returns.append(float(ret))
        self._positions.append(float(position))

    def check(self) -> list[Alert]:
        """Run every check now; store the snapshot; send and return the alerts let through."""
        found = [
            *self._check_bands(),
            *self._check_drift(),
            *self._check_regimes(),
            *self._check_behaviour(),
        ]
        sent = [a for a in found if self.sink.should_send(a, self.step)]
        for a in sent:
            self.store.add_alert(self.step, a)
            self.sink.send(a)
        self.alerts.extend(sent)
        if found:
            self.store.set_info("alert_summary", json.dumps(self.alert_summary().to_dict()))
        return sent

    def alert_summary(self) -> AlertSummary:
        """Per-kind counts: raised, sent, held back by the cooldown (print its ``lines()``)."""
        return self.sink.summary()

    def _alert(
        self, kind: str, subject: str, value: float, lo: float | None, hi: float | None, msg: str
    ) -> Alert:
        return Alert(self._last_ts, kind, subject, float(value), lo, hi, msg, self.model_version)

    def _check_bands(self) -> list[Alert]:
        """One ``band`` alert naming every metric outside its band on the harmful side."""
        if len(self._returns) < self.cfg.window:
            return []
        live = window_metrics(
            np.array(self._returns), np.array(self._positions), self.cfg.bars_per_year
        )
        rows, bad = [], []
        for m, v in live.items():
            band = self.expected.bands.get(m)
            lo, hi = (band.lo, band.hi) if band else (None, None)
            rows.append((self.step, self._last_ts, m, v, lo, hi))
            self.latest[f"metric_{m}"] = v
            if band and _is_worse(m, v, band):
                bad.append((m, v, band))
        self.store.add_metrics(rows)
        if not bad:
            return []
        parts = [f"{m} {v:.4g} outside [{b.lo:.4g}, {b.hi:.4g}]" for m, v, b in bad]
        m, v, b = bad[0]
        msg = (
            f"over the last {self.cfg.window} bars: {'; '.join(parts)} "
            f"(bands from {b.n_chunks} validation windows)"
        )
        return [self._alert("band", m, v, b.lo, b.hi, msg)]

    def _check_drift(self) -> list[Alert]:
        ref = self.expected.drift
        if ref is None or len(self._features) < ref.window:
            return []
        psi, limits = ref.psi_of(np.array(self._features)), ref.limits
        ratio = psi / np.maximum(limits, 1e-12)
        rows = zip(ref.names, psi, limits, ratio, strict=True)
        self.store.add_drift(
            [(self.step, self._last_ts, n, p, lim, r, int(r > 1)) for n, p, lim, r in rows]
        )
        self.latest["drift_score"] = float(ratio.max())
        for name, r in zip(ref.names, ratio, strict=True):
            self.latest[f"drift_ratio_{name}"] = float(r)
        if ratio.max() <= 1.0:
            return []
        order = [j for j in np.argsort(-ratio) if ratio[j] > 1.0]
        top = order[0]
        also = ", ".join(f"{ref.names[j]} x{ratio[j]:.2f}" for j in order[1:4])
        msg = (
            f"feature {ref.names[top]} drifted: PSI {psi[top]:.3f} over the last {ref.window} "
            f"rows, limit {limits[top]:.3f} (x{ratio[top]:.2f})"
            + (f"; also {also}" if also else "")
        )
        return [self._alert("drift", ref.names[top], psi[top], None, limits[top], msg)]

    def _check_regimes(self) -> list[Alert]:
        ref, labels = self.expected.regimes, np.array(self._regimes)
        if ref is None or not ref.ready(labels):
            return []
        score, shares, tvd = ref.score(labels)
        self.store.add_metrics(
            [(self.step, self._last_ts, "regime_shift", tvd, None, ref.tvd_limit)]
        )
        self.latest.update({"regime_score": score, "regime_shift": tvd})
        for name, s in zip(REGIME_NAMES, shares, strict=True):
            self.latest[f"regime_share_{name}"] = float(s)
        if score <= 1.0:
            return []
        k = int(np.argmax(ref.excursions(shares)))
        msg = (
            f"regime mix of the last {ref.window} bars: {REGIME_NAMES[k]} {shares[k]:.0%} "
            f"(calibrated range {max(ref.lo[k], 0):.0%}-{min(ref.hi[k], 1):.0%}, training "
            f"{ref.train[k]:.0%}); total variation {tvd:.2f} (limit {ref.tvd_limit:.2f})"
        )
        return [self._alert("regime_mix", REGIME_NAMES[k], shares[k], ref.lo[k], ref.hi[k], msg)]

    def _check_behaviour(self) -> list[Alert]:
        out, cfg = [], self.cfg
        if len(self._held) >= cfg.long_window:
            share = top_share(np.array(self._held))
            usual = self.expected.top_share
            if share >= cfg.collapse_share and (usual is None or usual < cfg.collapse_share):
                pos = float(np.median(self._held))
                what = "long" if pos > 0 else ("short" if pos < 0 else "flat")
                msg = f"action collapse: {share:.0%} of the last {cfg.long_window} bars {what}"
                out.append(
                    self._alert("action_collapse", what, share, None, cfg.collapse_share, msg)
                )
        if len(self._latency) >= 20:
            p99 = float(np.percentile(self._latency, 99))
            self.latest["latency_p99_ms"] = p99
            self.store.add_metrics(
                [(self.step, self._last_ts, "latency_p99_ms", p99, None, cfg.latency_ms)]
            )
            if p99 > cfg.latency_ms:
                msg = f"p99 decision latency {p99:.1f} ms over the {cfg.latency_ms:g} ms budget"
                out.append(self._alert("latency", "latency_p99_ms", p99, None, cfg.latency_ms, msg))
        return out

    def trend(self, metric: str, window: int = 10) -> Trend | None:
        """The plan's trend: slope of the last ``window`` snapshots of ``metric``."""
        return metric_trend(self.store, metric, window)


def metric_trend(store: MonitorStore, metric: str, window: int = 10) -> Trend | None:
    """``linregress`` trend of the last ``window`` stored snapshots of ``metric``."""
    m = store.frame("metrics")
    values = m.loc[m["metric"] == metric, "value"].to_numpy()[-window:]
    return trend(metric, values)


def _gauge_name(name: str) -> str:
    return "monitor_" + re.sub(r"[^a-zA-Z0-9_]", "_", name)


def monitor_gauges(monitor: ModelMonitor) -> dict[str, float]:
    """Flat gauges of a monitor for a Prometheus ``/metrics`` endpoint (names valid there).

    ``monitor_drift_score`` (largest PSI / limit over features: above 1 is drift),
    ``monitor_drift_ratio_<feature>``, ``monitor_regime_score`` (above 1 alarms),
    ``monitor_regime_shift`` (total variation from the training mix),
    ``monitor_regime_share_<regime>``, ``monitor_metric_<metric>`` (rolling metrics),
    ``monitor_latency_p99_ms``, ``monitor_decisions``, and per alert kind
    ``monitor_alerts_raised_<kind>`` / ``monitor_alerts_sent_<kind>``. A value not computed
    yet (before the first full window) is NaN.
    """
    out = {"monitor_decisions": float(monitor.step)}
    for key in ("drift_score", "regime_score", "regime_shift"):
        out[_gauge_name(key)] = float("nan")
    for name in REGIME_NAMES:
        out[_gauge_name(f"regime_share_{name}")] = float("nan")
    latest = dict(monitor.latest)  # one copy: a check may run in another thread
    out.update({_gauge_name(k): float(v) for k, v in latest.items()})
    kinds = dict(monitor.alert_summary().kinds)
    for kind in KINDS:
        s = kinds.get(kind)
        out[_gauge_name(f"alerts_raised_{kind}")] = float(s.raised if s else 0)
        out[_gauge_name(f"alerts_sent_{kind}")] = float(s.sent if s else 0)
    return out
