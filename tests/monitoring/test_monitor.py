"""Bands from every validation window, the trend, the monitor's alerts to SQLite and a webhook,
per-kind cooldown and summary, gauges."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from regime_trader.cli import run
from regime_trader.monitoring import (
    Alert,
    AlertSink,
    Expectations,
    ModelMonitor,
    MonitorConfig,
    MonitorStore,
    expected_bands,
    monitor_gauges,
    trend,
    window_metrics,
)


def test_bands_cover_every_validation_window_plus_a_margin() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(0.001, 0.01, 300)
    p = np.ones(300)
    bands = expected_bands(r, p, window=50, bars_per_year=252, margin=0.5)
    windows = [window_metrics(r[i : i + 50], p[i : i + 50], 252)["sharpe"] for i in range(251)]
    b = bands["sharpe"]
    assert b.n_chunks == 251
    lo, mid = min(windows), float(np.median(windows))
    assert b.lo == pytest.approx(lo - 0.5 * (mid - lo))
    assert all(b.contains(w) for w in windows)  # replaying validation: no band alert
    assert "volatility" in bands
    with pytest.raises(ValueError, match="2 validation windows"):
        expected_bands(r[:60], p[:60], window=50, bars_per_year=252)


def test_trend_reads_the_metric_direction() -> None:
    up = trend("sharpe", [0.1, 0.3, 0.2, 0.5, 0.6])
    assert up.slope > 0 and up.is_improving
    assert not trend("max_drawdown", [0.01, 0.02, 0.04, 0.05]).is_improving
    assert trend("sharpe", [1.0, 2.0]) is None


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    srv = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Hook.received = []
    yield f"http://127.0.0.1:{srv.server_address[1]}/alerts"
    srv.shutdown()


def test_degraded_collapsed_model_alerts_to_sqlite_and_webhook(tmp_path, webhook) -> None:
    rng = np.random.default_rng(0)
    cfg = MonitorConfig(window=20, check_every=10, drift_window=100, long_factor=2)
    val_pos = np.tile([1.0, 1.0, 0.0, 0.0], 50)  # validation: mixed positions, positive returns
    val_ret = rng.normal(0.002, 0.005, 200) * val_pos
    feats = rng.standard_normal((1000, 2))
    expected = Expectations.from_validation(
        val_ret, val_pos, cfg, features=feats, names=["f0", "f1"], regimes=rng.integers(0, 4, 1000)
    )
    store = MonitorStore(tmp_path / "mon.db")
    mon = ModelMonitor(store, expected, AlertSink(webhook), cfg, model_version="1.0.0")
    for i in range(200):  # live: always long, losing, feature f1 shifted by 1 sd
        mon.record(
            f"2020-01-{1 + i % 28:02d}",
            action=2,
            position=1.0,
            regime=0,
            latency_ms=3.0,
            features=np.array([rng.standard_normal(), rng.standard_normal() + 1]),
        )
        mon.add_return(mon.step, rng.normal(-0.01, 0.005), 1.0)
    kinds = {(a.kind, a.subject) for a in mon.alerts}
    assert ("band", "return") in kinds  # one band alert per check names every metric
    assert any("sharpe" in a.message for a in mon.alerts if a.kind == "band")
    assert ("action_collapse", "long") in kinds
    assert ("drift", "f1") in kinds and ("drift", "f0") not in kinds
    assert ("regime_mix", "uptrend") in kinds
    assert not any(k == "latency" for k, _ in kinds)
    got = {(a["alert"]["kind"], a["alert"]["subject"]) for a in _Hook.received}
    assert got == kinds
    assert len(store.frame("alerts")) == len(mon.alerts)
    assert mon.trend("sharpe") is not None
    html = tmp_path / "r.html"
    assert run(["monitor", str(tmp_path / "mon.db"), "--html", str(html)]) == 0
    assert "Monitoring report" in html.read_text()


def test_webhook_down_does_not_stop_monitoring(tmp_path) -> None:
    from regime_trader.monitoring.alerts import Alert

    sink = AlertSink("http://127.0.0.1:9/none", timeout=0.5)  # discard port: refused
    sink.send(Alert("t", "band", "sharpe", -1.0, 0.0, 1.0, "low"))
    assert sink.failures == 1


def test_cooldown_is_per_kind_and_the_summary_counts_the_rest() -> None:
    sink = AlertSink(cooldown=10)
    a = Alert("2020-01-01", "drift", "vol_20", 3.0, None, 1.0, "x")
    b = Alert("2020-01-02", "drift", "ret_1", 2.0, None, 1.0, "y")  # same kind, other feature
    c = Alert("2020-01-02", "band", "sharpe", -3.0, -1.0, 2.0, "z")
    sent = [sink.should_send(x, step) for step, x in [(1, a), (2, b), (2, c), (11, b), (12, a)]]
    assert sent == [True, False, True, True, False]
    s = sink.summary()
    assert (s.raised, s.sent) == (5, 3)
    drift = s.kinds["drift"]
    assert (drift.raised, drift.sent, drift.suppressed) == (4, 2, 2)
    assert drift.subjects == {"vol_20": 2, "ret_1": 2}
    assert s.lines()[1].startswith("drift: 4 raised, 2 sent, 2 within the 10-decision cooldown")
    assert s.to_dict()["band"]["sent"] == 1
    assert AlertSink().summary().lines() == ["alerts: none"]


def test_gauges_export_drift_and_regime_mix(tmp_path) -> None:
    import re

    rng = np.random.default_rng(3)
    cfg = MonitorConfig(window=20, check_every=10, drift_window=100, long_factor=2)
    val_pos = np.tile([1.0, 0.0], 100)
    expected = Expectations.from_validation(
        rng.normal(0.001, 0.01, 200) * val_pos,
        val_pos,
        cfg,
        features=rng.standard_normal((1000, 2)),
        names=["ret_1", "vol@5min"],
        regimes=rng.integers(0, 4, 1000),  # no 40-bar window of training is one regime
    )
    mon = ModelMonitor(MonitorStore(tmp_path / "m.db"), expected, AlertSink(), cfg)
    before = monitor_gauges(mon)
    assert np.isnan(before["monitor_drift_score"]) and before["monitor_decisions"] == 0
    for i in range(120):
        mon.record(f"t{i}", action=2, position=1.0, regime=1, features=rng.standard_normal(2))
        mon.add_return(mon.step, 0.001, 1.0)
    g = monitor_gauges(mon)
    assert all(re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", k) for k in g)  # Prometheus names
    assert 0 <= g["monitor_drift_score"] < 1 and "monitor_drift_ratio_vol_5min" in g
    assert g["monitor_regime_share_downtrend"] == 1.0 and g["monitor_regime_score"] > 1
    assert g["monitor_alerts_raised_regime_mix"] >= 1 and g["monitor_decisions"] == 120
    assert all(isinstance(v, float) for v in g.values())
