"""Issue 19, HTTP contracts: the key before the body, 413 for chunked bodies, every status
counted (500s included), swaps from any source in the metrics, 409 for a bad reload, no local
folders in /v1/model, and `serve --help` saying a key is required."""

from __future__ import annotations

import time

import httpx
import pytest
from _tiny import AUTH, TOKEN, bar_json, tiny_model

from regime_trader.serve import ModelHolder, ServerThread, create_app
from regime_trader.serve.redact import redact, redact_text


def test_the_key_is_checked_first_and_guards_every_route(service, bars) -> None:
    url, _, _ = service
    junk = httpx.post(f"{url}/v1/decide", content=b"{not json", headers={"X-API-Key": "no"})
    assert junk.status_code == 401, junk.text  # not 422: the body was never parsed
    big = httpx.post(f"{url}/v1/decide", content=b" " * 50_000)
    assert big.status_code == 401  # not 413: the key comes first
    for path in ("/openapi.json", "/docs", "/v1/sessions", "/nope"):
        r = httpx.get(f"{url}{path}")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
    assert "/v1/decide" in httpx.get(f"{url}/openapi.json", headers=AUTH).json()["paths"]
    assert httpx.get(f"{url}/docs", headers=AUTH).status_code == 404  # no UI is served
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}


def test_a_chunked_body_over_the_limit_gets_413(service, bars) -> None:
    url, _, _ = service

    def chunks():  # no Content-Length: Transfer-Encoding: chunked
        for _ in range(30):
            yield b" " * 1000

    headers = {**AUTH, "Content-Type": "application/json"}
    r = httpx.post(f"{url}/v1/decide", content=chunks(), headers=headers)
    assert r.status_code == 413, r.text
    assert "20000 bytes" in r.json()["error"]
    small = httpx.post(
        f"{url}/v1/decide",
        content=iter([b'{"session_id": "c", ', b'"bar": ', httpx.Request("GET", "/").content]),
        headers=headers,
    )
    assert small.status_code == 422  # a small chunked body is read and parsed


def test_every_answer_is_counted_500s_included(service, bars, monkeypatch) -> None:
    url, holder, _ = service

    def broken() -> dict:
        raise RuntimeError("a bug")

    monkeypatch.setattr(holder, "info", broken)
    r = httpx.get(f"{url}/v1/model", headers=AUTH)
    assert r.status_code == 500 and "a bug" not in r.text
    httpx.get(f"{url}/v1/model")  # 401
    httpx.post(f"{url}/v1/decide", json={"bar": {}}, headers=AUTH)  # 422
    httpx.post(f"{url}/v1/decide", content=b" " * 30_000, headers=AUTH)  # 413
    text = httpx.get(f"{url}/metrics", headers=AUTH).text
    for endpoint, status in (
        ("/v1/model", 500),
        ("/v1/model", 401),
        ("/v1/decide", 422),
        ("/v1/decide", 413),
    ):
        line = f'regime_trader_requests_total{{endpoint="{endpoint}",status="{status}"}} 1.0'
        assert line in text, line


def _versioned(bars, seed: int, version: str):  # noqa: ANN202 - a tiny model
    model = tiny_model(bars, seed=seed)
    model.metadata = {"name": "tiny", "version": version}
    return model


def _swappable(bars, monkeypatch):  # noqa: ANN202 - (holder, stamp, models)
    from regime_trader.serve import model as holder_mod

    stamp = ["a"]
    models = {"a": _versioned(bars, 0, "1.0.0"), "b": _versioned(bars, 3, "2.0.0")}
    models["c"] = _versioned(bars, 4, "3.0.0")
    monkeypatch.setattr(holder_mod, "resolve", lambda spec, root: spec)
    monkeypatch.setattr(holder_mod, "fingerprint", lambda path: stamp[0])
    monkeypatch.setattr(holder_mod, "load_model", lambda path, dev, th: models[stamp[0]])
    return ModelHolder("registry:tiny@champion"), stamp, models


def test_swaps_from_the_watcher_update_the_metrics(bars, monkeypatch) -> None:
    holder, stamp, models = _swappable(bars, monkeypatch)
    with ServerThread(create_app(holder, token=TOKEN)) as srv:
        stamp[0] = "b"
        stop = holder.watch(0.02)  # the watcher thread, not the API, makes this swap
        deadline = time.monotonic() + 10
        while holder.current.version != "2.0.0" and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        text = httpx.get(f"{srv.url}/metrics", headers=AUTH).text
        assert 'regime_trader_model_info{name="tiny",version="2.0.0"} 1.0' in text
        assert 'version="1.0.0"' not in text
        assert "regime_trader_model_swaps_total 1.0" in text
        holder.swap_to(models["c"])
        text = httpx.get(f"{srv.url}/metrics", headers=AUTH).text
        assert 'regime_trader_model_info{name="tiny",version="3.0.0"} 1.0' in text
        assert "regime_trader_model_swaps_total 2.0" in text
        assert httpx.get(f"{srv.url}/v1/model", headers=AUTH).json()["swaps"] == 2


def test_a_bad_reload_is_409_naming_the_file_and_the_old_model_serves(
    model, bars, tmp_path
) -> None:
    bad = tmp_path / "pkgs" / "pkg-v2"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text("{garbage", encoding="utf-8")
    holder = ModelHolder(model=model)
    holder.spec = str(bad)  # the spec now points at a damaged package
    with ServerThread(create_app(holder, token=TOKEN)) as srv:
        r = httpx.post(f"{srv.url}/v1/reload", headers=AUTH)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert "manifest.json" in err and "pkg-v2" in err and "still serving" in err
        assert str(tmp_path) not in r.text and r.json()["swapped"] is False
        info = httpx.get(f"{srv.url}/v1/model", headers=AUTH).json()
        assert info["version"] == model.version
        window = [bar_json(bars, i) for i in range(60)]
        ok = httpx.post(f"{srv.url}/v1/decide", json={"bars": window}, headers=AUTH)
        assert ok.status_code == 200
        text = httpx.get(f"{srv.url}/metrics", headers=AUTH).text
        assert 'regime_trader_requests_total{endpoint="/v1/reload",status="409"} 1.0' in text


def test_model_info_shows_no_local_folder(bars, tmp_path) -> None:
    model = tiny_model(bars)
    run = tmp_path / "runs" / "r1"
    model.metadata = {
        "name": "tiny",
        "version": "1.0.0",
        "run": {"folder": str(run), "name": "r1"},
        "data": {"source": "data/bars.csv", "reason": f"'{tmp_path}/x.csv': not found"},
        "homepage": "https://example.org/models/tiny",
    }
    holder = ModelHolder(model=model)
    holder.spec = str(tmp_path / "pkgs" / "my-model")
    with ServerThread(create_app(holder, token=TOKEN)) as srv:
        r = httpx.get(f"{srv.url}/v1/model", headers=AUTH)
    assert str(tmp_path) not in r.text and "path" not in r.json()
    info = r.json()
    assert info["spec"] == "my-model"
    meta = info["metadata"]
    assert meta["run"] == {"folder": "r1", "name": "r1"}
    assert meta["data"] == {"source": "bars.csv", "reason": "'x.csv': not found"}
    assert meta["homepage"] == "https://example.org/models/tiny"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("registry:spx@champion", "registry:spx@champion"),
        ("/srv/models/spx-v2", "spx-v2"),
        ("C:\\models\\spx", "spx"),
        ("~/pkgs/a", "a"),
        ("1.2.0", "1.2.0"),
        ("s3://bucket/key", "s3://bucket/key"),
        ("no model at /srv/x/y.pt (gone)", "no model at y.pt (gone)"),
    ],
)
def test_redact_cuts_paths_to_their_last_part(given: str, shown: str) -> None:
    assert redact_text(given) == shown
    assert redact({"a": [given]}) == {"a": [shown]}


def test_serve_help_says_the_key_is_required() -> None:
    from typer.testing import CliRunner

    from regime_trader.cli import app

    out = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200).output
    flat = " ".join(out.split())
    assert "REGIME_TRADER_API_KEY" in flat and "refuses to start" in flat
