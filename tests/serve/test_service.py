"""The decision service over real HTTP on loopback: auth, bad input, streams, metrics, swaps."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import pandas as pd
import pytest
from _tiny import AUTH, SIZED, bar_json, tiny_model

from regime_trader.serve.paper import backtest_decisions, paper_trade


def _stream(url: str, session: str, bar: dict, **extra) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/decide", json={"bar": bar, "session_id": session, **extra}, headers=AUTH
    )


def test_requests_without_the_key_get_401_and_no_model_output(service, bars) -> None:
    url, _, _ = service
    body = {"bar": bar_json(bars, 0), "session_id": "s"}
    for headers in ({}, {"Authorization": "Bearer wrong-key-0000000000"}, {"X-API-Key": "nope"}):
        r = httpx.post(f"{url}/v1/decide", json=body, headers=headers)
        assert r.status_code == 401, r.text
        assert "action" not in r.text and "q_values" not in r.text
    for path in ("/v1/model", "/metrics", "/v1/sessions/s"):
        assert httpx.get(f"{url}{path}").status_code == 401
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert (
        httpx.post(
            f"{url}/v1/decide", json=body, headers={"X-API-Key": AUTH["Authorization"][7:]}
        ).status_code
        == 200
    )


def test_oversized_body_gets_413(service, bars) -> None:
    url, _, _ = service
    window = [bar_json(bars, i) for i in range(200)]  # ~25 kB > the 20 kB limit
    r = httpx.post(f"{url}/v1/decide", json={"bars": window}, headers=AUTH)
    assert r.status_code == 413
    assert "20000 bytes" in r.json()["error"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bar": {"close": -1.0}}, "bar.close"),
        ({"bar": {"timestamp": "yesterday"}}, "bar.timestamp"),
        ({"session_id": None}, "session_id"),
        ({"session_id": "bad id with spaces"}, "session_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_payload_gets_422_naming_the_field(service, bars, change, field) -> None:
    url, _, _ = service
    body = {"bar": bar_json(bars, 0), "session_id": "s"}
    for key, value in change.items():
        if isinstance(value, dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    r = httpx.post(f"{url}/v1/decide", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]


def test_stream_decisions_equal_the_backtest(service, bars, model) -> None:
    """Paper trading through the service == `policy_path` on the same bars, bar for bar."""
    url, _, _ = service
    res = paper_trade(
        url, AUTH["Authorization"][7:], bars, env_cfg=model.config.env, session_id="p"
    )
    bt = backtest_decisions(model, bars)
    rec = res.record
    assert len(rec) == len(bt) > 200
    assert (rec.index == bt.index).all()
    assert (rec["action"].to_numpy() == bt["action"].to_numpy()).all()
    np.testing.assert_allclose(rec["position"], bt["position"])
    np.testing.assert_allclose(
        rec["return"].dropna(), bt["return"].iloc[: rec["return"].notna().sum()], atol=1e-12
    )
    assert len(set(rec["action"])) > 1  # the test has teeth: the net trades


def test_window_request_equals_package_decide(service, bars, model) -> None:
    url, _, _ = service
    window = [bar_json(bars, i) for i in range(40, 110)]
    r = httpx.post(f"{url}/v1/decide", json={"bars": window}, headers=AUTH)
    assert r.status_code == 200, r.text
    out = r.json()
    frame = pd.DataFrame(window).set_index("timestamp")
    frame.index = pd.to_datetime(frame.index, utc=True)
    last = model.decide(frame).iloc[-1]
    assert out["action_code"] == last["action"] and out["target_position"] == last["position"]
    assert out["q_values"]["buy"] == pytest.approx(last["q_buy"], abs=1e-6)
    assert out["model"] == {"name": "tiny", "version": "1.0.0"}
    assert set(out["thresholds"]) >= {"base", "regime_mod", "boost", "sizing"}
    short = httpx.post(f"{url}/v1/decide", json={"bars": window[:5]}, headers=AUTH)
    assert short.status_code == 422 and "bars" in short.json()["error"]


def test_out_of_order_or_gap_is_refused_and_state_unchanged(service, bars, model) -> None:
    url, _, _ = service
    for i in range(60):
        assert _stream(url, "g", bar_json(bars, i)).status_code == 200
    before = httpx.get(f"{url}/v1/sessions/g", headers=AUTH).json()
    repeat = _stream(url, "g", bar_json(bars, 30))
    assert repeat.status_code == 409 and "out of order" in repeat.json()["error"]
    gap = bar_json(bars, 60)
    gap["timestamp"] = (bars.index[59] + pd.Timedelta(days=30)).isoformat()
    far = _stream(url, "g", gap)
    assert far.status_code == 409 and "gap" in far.json()["error"]
    assert httpx.get(f"{url}/v1/sessions/g", headers=AUTH).json() == before
    # the session goes on as if the refused bars never came: same decisions as a clean one
    outs = [_stream(url, "g", bar_json(bars, i)).json() for i in range(60, 90)]
    clean = backtest_decisions(model, bars.iloc[:90])
    got = [o["action"] for o in outs]
    assert got == list(clean["action"].iloc[-30:])


def test_metrics_and_model_endpoints(service, bars) -> None:
    url, _, _ = service
    for i in range(30):
        _stream(url, "m", bar_json(bars, i))
    text = httpx.get(f"{url}/metrics", headers=AUTH).text
    assert 'regime_trader_requests_total{endpoint="/v1/decide",status="200"} 30.0' in text
    assert "regime_trader_request_seconds_bucket" in text
    assert "regime_trader_decisions_total{action=" in text
    assert 'regime_trader_model_info{name="tiny",version="1.0.0"} 1.0' in text
    info = httpx.get(f"{url}/v1/model", headers=AUTH).json()
    assert info["version"] == "1.0.0" and info["window"] == 10


def test_hot_swap_drops_no_request(service, bars) -> None:
    """Requests in flight while the champion changes all succeed; later ones see the new one."""
    url, holder, _ = service
    new = tiny_model(bars, seed=7, version="2.0.0", rule=SIZED)
    window = [bar_json(bars, i) for i in range(0, 60)]
    codes, versions, go = [], [], threading.Event()

    def client() -> None:
        with httpx.Client(base_url=url, headers=AUTH) as c:
            while not go.is_set():
                r = c.post("/v1/decide", json={"bars": window})
                codes.append(r.status_code)
                versions.append(r.json()["model"]["version"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    while len(codes) < 8:
        threading.Event().wait(0.01)
    holder.swap_to(new)
    n = len(codes)
    while len(codes) < n + 8:
        threading.Event().wait(0.01)
    go.set()
    for t in threads:
        t.join()
    assert set(codes) == {200}
    assert versions[0] == "1.0.0" and versions[-1] == "2.0.0"


def test_reload_endpoint_swaps_when_the_package_changes(bars, model, monkeypatch) -> None:
    """`POST /v1/reload` re-resolves the spec; a changed package is swapped in, an
    unchanged one is not."""
    from regime_trader.serve import ModelHolder, ServerThread, create_app
    from regime_trader.serve import model as holder_mod

    stamp = ["a"]
    models = {"a": model, "b": tiny_model(bars, seed=3, version="3.0.0")}
    monkeypatch.setattr(holder_mod, "resolve", lambda spec, root: spec)
    monkeypatch.setattr(holder_mod, "fingerprint", lambda path: stamp[0])
    monkeypatch.setattr(holder_mod, "load_model", lambda path, dev, th: models[stamp[0]])
    holder = ModelHolder("registry:tiny@champion")
    with ServerThread(create_app(holder, token=AUTH["Authorization"][7:])) as srv:
        r = httpx.post(f"{srv.url}/v1/reload", headers=AUTH).json()
        assert r == {"swapped": False, "version": "1.0.0"}
        stamp[0] = "b"
        assert httpx.post(f"{srv.url}/v1/reload", headers=AUTH).json()["swapped"] is True
        assert httpx.get(f"{srv.url}/v1/model", headers=AUTH).json()["version"] == "3.0.0"
        assert (
            "regime_trader_model_swaps_total 1.0"
            in httpx.get(f"{srv.url}/metrics", headers=AUTH).text
        )
