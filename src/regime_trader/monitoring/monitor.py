"""`ModelMonitor`: the plan's monitor with bands learned from validation, drift and alerts.

Feed it one record per decision (``record``) and each step's realised return once it is known
(``add_return``); every ``check_every`` decisions it computes the rolling metrics over the last
``window`` returns, compares them with the validation bands, tests feature drift and the regime
mix against the training distribution, looks for action collapse and slow decisions, stores
everything in SQLite and sends the alerts (docs/monitoring.md lists every check).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from regime_trader.monitoring import drift as dr
from regime_trader.monitoring.alerts import Alert, AlertSink
from regime_trader.monitoring.bands import (
    HIGHER_IS_BETTER,
    Band,
    Trend,
    expected_bands,
    trend,
    window_metrics,
)
from regime_trader.monitoring.store import MonitorStore


@dataclass(frozen=True)
class MonitorConfig:
    """Thresholds of the checks (docs/monitoring.md)."""

    window: int = 63  # bars in the rolling metrics (a quarter of daily bars)
    check_every: int = 21
    k: float = 2.0  # band half-width in validation-chunk standard deviations
    bars_per_year: float = 252.0
    collapse_share: float = 0.98  # one position held over this share of the window
    latency_ms: float = 50.0  # p99 decision latency budget
    regime_shift: float = 0.25  # total variation distance of the regime mix
    max_reference: int = 5000  # training rows kept for the drift tests
    drift_window: int = 250  # latest live rows tested for drift (needs them all)
    long_factor: int = 4  # action collapse and regime mix look at long_factor * window bars

    @property
    def long_window(self) -> int:
        return self.long_factor * self.window


@dataclass
class Expectations:
    """What the live model is compared with: validation bands and the training distribution."""

    bands: dict[str, Band]
    names: list[str] = field(default_factory=list)
    features: np.ndarray | None = None  # [N, F] raw training features (subsampled)
    regimes: np.ndarray | None = None  # [N] training regime labels
    top_share: float | None = None  # validation share of the most held position
    regime_limit: float | None = None  # regime-mix alarm level (TVD) learned from training

    @classmethod
    def from_validation(
        cls,
        returns: np.ndarray,
        positions: np.ndarray,
        cfg: MonitorConfig = MonitorConfig(),
        *,
        features: np.ndarray | None = None,
        names: list[str] | None = None,
        regimes: np.ndarray | None = None,
        seed: int = 0,
    ) -> Expectations:
        bands = expected_bands(
            returns, positions, window=cfg.window, bars_per_year=cfg.bars_per_year, k=cfg.k
        )
        if features is not None and len(features) > cfg.max_reference:
            rows = np.random.default_rng(seed).choice(len(features), cfg.max_reference, False)
            features = np.asarray(features)[np.sort(rows)]
        limit = None if regimes is None else _regime_limit(np.asarray(regimes), cfg)
        return cls(bands, list(names or []), features, regimes, _top_share(positions), limit)

    def to_json(self) -> str:
        return json.dumps(
            {
                "bands": {k: asdict(b) for k, b in self.bands.items()},
                "names": self.names,
                "features": None if self.features is None else np.asarray(self.features).tolist(),
                "regimes": None if self.regimes is None else np.asarray(self.regimes).tolist(),
                "top_share": self.top_share,
                "regime_limit": self.regime_limit,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Expectations:
        d = json.loads(text)
        feats = None if d["features"] is None else np.asarray(d["features"], np.float64)
        regs = None if d["regimes"] is None else np.asarray(d["regimes"], np.int64)
        bands = {k: Band(**b) for k, b in d["bands"].items()}
        return cls(bands, d["names"], feats, regs, d["top_share"], d.get("regime_limit"))


def _regime_limit(labels: np.ndarray, cfg: MonitorConfig) -> float:
    """``max(cfg.regime_shift, mean + k * sd)`` of the TVD between each ``long_window`` chunk of
    the training labels and their whole mix: regimes persist, so a short live stretch differs
    from the long-run mix even when nothing has changed."""
    n = cfg.long_window
    tvd = [dr.regime_mix_shift(labels, labels[i : i + n]) for i in range(0, len(labels) - n + 1, n)]
    if len(tvd) < 2:
        return cfg.regime_shift
    return float(max(cfg.regime_shift, np.mean(tvd) + cfg.k * np.std(tvd, ddof=1)))


def _is_worse(metric: str, value: float, band: Band) -> bool:
    """Outside the band on the harmful side (both sides for turnover: a change of behaviour)."""
    if metric == "turnover":
        return not band.contains(value)
    if HIGHER_IS_BETTER.get(metric, True):
        return value < band.lo
    return value > band.hi


def _top_share(positions: np.ndarray) -> float:
    p = np.round(np.asarray(positions, np.float64), 6)
    if p.size == 0:
        return 0.0
    return float(np.unique(p, return_counts=True)[1].max() / p.size)


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
        self._returns: deque[float] = deque(maxlen=cfg.window)
        self._positions: deque[float] = deque(maxlen=cfg.window)
        self._held: deque[float] = deque(maxlen=cfg.long_window)
        self._regimes: deque[int] = deque(maxlen=cfg.max_reference)
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
        """One decision; runs the checks every ``check_every`` records; the alerts raised."""
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
        """Run every check now; store the snapshot; send and return the new alerts."""
        found = [*self._check_bands(), *self._check_drift(), *self._check_behaviour()]
        sent = [a for a in found if self.sink.should_send(a, self.step)]
        for a in sent:
            self.store.add_alert(self.step, a)
            self.sink.send(a)
        self.alerts.extend(sent)
        return sent

    def _alert(self, kind: str, subject: str, value: float, lo, hi, message: str) -> Alert:
        return Alert(
            self._last_ts, kind, subject, float(value), lo, hi, message, self.model_version
        )

    def _check_bands(self) -> list[Alert]:
        if len(self._returns) < self.cfg.window:
            return []
        live = window_metrics(
            np.array(self._returns), np.array(self._positions), self.cfg.bars_per_year
        )
        rows, out = [], []
        for m, v in live.items():
            band = self.expected.bands.get(m)
            lo, hi = (band.lo, band.hi) if band else (None, None)
            rows.append((self.step, self._last_ts, m, v, lo, hi))
            if band and _is_worse(m, v, band):
                msg = (
                    f"{m} over the last {self.cfg.window} bars is {v:.4g}, outside the validation "
                    f"band [{band.lo:.4g}, {band.hi:.4g}] (mean {band.mean:.4g} ± {self.cfg.k:g} sd)"
                )
                out.append(self._alert("band", m, v, band.lo, band.hi, msg))
        self.store.add_metrics(rows)
        return out

    def _check_drift(self) -> list[Alert]:
        ex, out = self.expected, []
        if ex.features is not None and len(self._features) >= self.cfg.drift_window:
            ref = np.asarray(ex.features, np.float32)
            res = dr.feature_drift(ref, np.array(self._features), ex.names)
            self.store.add_drift(
                [
                    (
                        self.step,
                        self._last_ts,
                        d.feature,
                        d.psi,
                        d.ks_stat,
                        d.ks_pvalue,
                        int(d.drifted),
                    )
                    for d in res
                ]
            )
            for d in (d for d in res if d.drifted):
                msg = f"feature {d.feature} drifted: PSI {d.psi:.3f}, KS D {d.ks_stat:.3f} (p {d.ks_pvalue:.2g})"
                out.append(self._alert("drift", d.feature, d.psi, None, dr.PSI_THRESHOLD, msg))
        live = np.array(self._regimes)
        live = live[-self.cfg.long_window :]
        if ex.regimes is not None and (live >= 0).sum() >= self.cfg.long_window:
            tvd = dr.regime_mix_shift(ex.regimes, live)
            limit = ex.regime_limit or self.cfg.regime_shift
            self.store.add_metrics([(self.step, self._last_ts, "regime_shift", tvd, None, limit)])
            if tvd > limit:
                msg = f"regime mix moved {tvd:.2f} (total variation) from training (limit {limit:.2f})"
                out.append(self._alert("regime_mix", "regimes", tvd, None, limit, msg))
        return out

    def _check_behaviour(self) -> list[Alert]:
        out, cfg = [], self.cfg
        if len(self._held) >= cfg.long_window:
            share = _top_share(np.array(self._held))
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
