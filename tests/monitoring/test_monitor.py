"""Bands from validation chunks, the trend, the monitor's alerts to SQLite and a webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from regime_trader.cli import run
from regime_trader.monitoring import (
    AlertSink,
    Expectations,
    ModelMonitor,
    MonitorConfig,
    MonitorStore,
    expected_bands,
    trend,
    window_metrics,
)


def test_bands_are_mean_plus_minus_k_sd_over_chunks() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(0.001, 0.01, 300)
    p = np.ones(300)
    bands = expected_bands(r, p, window=50, bars_per_year=252, k=2.0)
    chunks = [
        window_metrics(r[i : i + 50], p[i : i + 50], 252)["sharpe"] for i in range(0, 300, 50)
    ]
    b = bands["sharpe"]
    assert b.n_chunks == 6
    assert b.mean == pytest.approx(np.mean(chunks))
    assert b.lo == pytest.approx(np.mean(chunks) - 2 * np.std(chunks, ddof=1))
    with pytest.raises(ValueError, match="2 validation chunks"):
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
    assert ("band", "return") in kinds and ("band", "sharpe") in kinds
    assert ("action_collapse", "long") in kinds
    assert ("drift", "f1") in kinds and ("drift", "f0") not in kinds
    assert ("regime_mix", "regimes") in kinds
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
