"""Issue 19: a full disk is a 503 and a full house a 429, never a 500 (item 1); exactly-once
stream decisions, the WAL checkpointed on shutdown, backups, checksummed bar-log rows and
sessions listed after a restart (item 3)."""

from __future__ import annotations

import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from _tiny import AUTH, TOKEN, bar_json

from regime_trader.serve import ModelHolder, ServerThread, SessionManager, create_app
from regime_trader.serve.backup import backup, main
from regime_trader.serve.limits import SessionLimits
from regime_trader.serve.refusals import SessionLimitError


def _app(model, db: Path | None, **kw) -> tuple[ServerThread, SessionManager]:
    holder = ModelHolder(model=model)
    sessions = SessionManager(holder, db, **kw)
    return ServerThread(create_app(holder, token=TOKEN, sessions=sessions)), sessions


def _stream(url: str, session: str, bar: dict, key: str | None = None, **extra) -> httpx.Response:
    headers = AUTH if key is None else {**AUTH, "Idempotency-Key": key}
    body = {"bar": bar, "session_id": session, **extra}
    return httpx.post(f"{url}/v1/decide", json=body, headers=headers)


def _actions(model, bars, start: int, stop: int) -> list[int]:
    """Decisions of a clean, uninterrupted session on bars [0, stop), from ``start``."""
    clean = SessionManager(ModelHolder(model=model))
    steps = [clean.step("clean", bar_json(bars, i)) for i in range(stop)]
    return [s.decision.action for s in steps[start:]]


def test_full_disk_is_503_the_bar_not_consumed_and_healthz_tells(service, bars, model) -> None:
    """A real SQLITE_FULL (max_page_count), which rolls the transaction back by itself."""
    url, _, sessions = service
    for i in range(30):
        assert _stream(url, "d", bar_json(bars, i)).status_code == 200
    db = sessions.log._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    i = 30
    while (r := _stream(url, "d", bar_json(bars, i))).status_code == 200:
        i += 1
        assert i < 200, "the page limit never filled"
    assert r.status_code == 503, r.text
    assert "full" in r.json()["error"] and r.json()["state"] == "unchanged"
    assert r.headers["retry-after"] == "1"
    before = httpx.get(f"{url}/v1/sessions/d", headers=AUTH).json()
    assert before["bars"] == i
    health = httpx.get(f"{url}/healthz")
    assert health.status_code == 503 and "full" in health.json()["storage"]
    assert _stream(url, "d", bar_json(bars, i)).status_code == 503  # resend: still full
    assert httpx.get(f"{url}/v1/sessions/d", headers=AUTH).json() == before
    db.execute("PRAGMA max_page_count = 1000000000")  # space freed
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    got = [_stream(url, "d", bar_json(bars, j)).json()["action_code"] for j in range(i, i + 20)]
    assert got == _actions(model, bars, i, i + 20)
    text = httpx.get(f"{url}/metrics", headers=AUTH).text
    assert 'regime_trader_requests_total{endpoint="/v1/decide",status="503"} 2.0' in text
    assert 'regime_trader_requests_total{endpoint="/healthz",status="503"} 1.0' in text
    assert "regime_trader_storage_errors_total 2.0" in text


def test_session_limit_is_429_or_evicts_the_least_recently_used(model, bars, tmp_path) -> None:
    srv, _ = _app(model, tmp_path / "a.db", limits=SessionLimits(2, "none"))
    with srv:
        for s in ("s1", "s2"):
            assert _stream(srv.url, s, bar_json(bars, 0)).status_code == 200
        full = _stream(srv.url, "s3", bar_json(bars, 0))
        assert full.status_code == 429 and "limit" in full.json()["error"], full.text
        assert full.headers["retry-after"] == "1"
        assert _stream(srv.url, "s1", bar_json(bars, 1)).status_code == 200
        text = httpx.get(f"{srv.url}/metrics", headers=AUTH).text
        assert 'regime_trader_requests_total{endpoint="/v1/decide",status="429"} 1.0' in text
    holder = ModelHolder(model=model)
    lru = SessionManager(holder, tmp_path / "b.db", limits=SessionLimits(2, "lru"))
    for i in range(40):
        lru.step("s1", bar_json(bars, i))
    lru.step("s2", bar_json(bars, 0))
    lru.step("s3", bar_json(bars, 0))  # evicts s1, the least recently used
    assert len(lru) == 2 and lru.evicted == 1
    assert lru.state("s1")["bars"] == 40  # from the log
    rest = [lru.step("s1", bar_json(bars, i)).decision.action for i in range(40, 70)]
    assert rest == _actions(model, bars, 40, 70)  # rebuilt from its log: nothing lost


def test_idle_sessions_are_evicted_first(model, bars) -> None:
    now = [0.0]
    limits = SessionLimits(2, "none", idle_seconds=10)
    sessions = SessionManager(ModelHolder(model=model), limits=limits, clock=lambda: now[0])
    sessions.step("s1", bar_json(bars, 0))
    sessions.step("s2", bar_json(bars, 0))
    with pytest.raises(SessionLimitError):
        sessions.step("s3", bar_json(bars, 0))
    now[0] = 11.0
    sessions.step("s3", bar_json(bars, 0))
    assert sessions.evicted == 2 and len(sessions) == 1


def test_a_resend_after_a_crash_gets_the_stored_decision(model, bars, tmp_path) -> None:
    live = tmp_path / "live"
    srv, _ = _app(model, live / "sessions.db")
    with srv:
        outs = [_stream(srv.url, "x", bar_json(bars, i), key=f"x-{i}").json() for i in range(70)]
        crash = tmp_path / "crash"  # the files a kill -9 leaves: db and WAL, not checkpointed
        crash.mkdir()
        for f in ("sessions.db", "sessions.db-wal"):
            shutil.copy(live / f, crash / f)
    srv, _ = _app(model, crash / "sessions.db")
    with srv:
        again = _stream(srv.url, "x", bar_json(bars, 69), key="x-69")
        assert again.status_code == 200, again.text
        body = again.json()
        assert body["replayed"] is True and outs[-1]["replayed"] is False
        for k in ("timestamp", "action", "q_values", "target_position", "features", "bars_seen"):
            assert body[k] == outs[-1][k], k
        by_body = _stream(srv.url, "x", bar_json(bars, 68), request_id="x-68").json()
        assert by_body["replayed"] is True and by_body["action"] == outs[-2]["action"]
        assert httpx.get(f"{srv.url}/v1/sessions/x", headers=AUTH).json()["bars"] == 70
        reused = _stream(srv.url, "x", bar_json(bars, 70), key="x-69")
        assert reused.status_code == 409 and "already used" in reused.json()["error"]
        assert _stream(srv.url, "x", bar_json(bars, 69)).status_code == 409  # no id: order
        mixed = _stream(srv.url, "x", bar_json(bars, 70), key="a", request_id="b")
        assert mixed.status_code == 422 and mixed.json()["errors"][0]["field"] == "request_id"
        bad = _stream(srv.url, "x", bar_json(bars, 70), key="has spaces")
        assert bad.status_code == 422 and "idempotency-key" in bad.json()["error"]
        nxt = _stream(srv.url, "x", bar_json(bars, 70), key="x-70").json()
        assert nxt["replayed"] is False and nxt["bars_seen"] == 71
        assert nxt["action_code"] == _actions(model, bars, 70, 71)[0]


def test_shutdown_checkpoints_the_wal_and_backup_copies_a_live_log(
    model, bars, tmp_path, capsys
) -> None:
    db = tmp_path / "sessions.db"
    lone = tmp_path / "lone"
    lone.mkdir()
    srv, sessions = _app(model, db)
    with srv:
        for i in range(30):
            assert _stream(srv.url, "w", bar_json(bars, i)).status_code == 200
        assert (tmp_path / "sessions.db-wal").stat().st_size > 0
        shutil.copy(db, lone / "early.db")  # cp of a live db misses what is in the WAL
        with sqlite3.connect(lone / "early.db") as early:
            tables = {r[0] for r in early.execute("SELECT name FROM sqlite_master")}
        assert "bars" not in tables
        assert backup(db, tmp_path / "copy.db")["bars"] == 30  # live, via the backup API
        sessions.log.backup(tmp_path / "copy2.db")
    wal = tmp_path / "sessions.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed (TRUNCATE) on shutdown
    shutil.copy(db, lone / "sessions.db")
    for path in (lone / "sessions.db", tmp_path / "copy.db", tmp_path / "copy2.db"):
        with sqlite3.connect(path) as copy:
            assert copy.execute("SELECT COUNT(*) FROM bars").fetchone()[0] == 30
    assert main([str(db), str(tmp_path / "copy3.db")]) == 0
    assert "bars 30" in capsys.readouterr().out
    assert main([str(tmp_path / "nope.db"), str(tmp_path / "x.db")]) == 2


def test_an_edited_or_missing_bar_log_row_is_refused_not_replayed(model, bars, tmp_path) -> None:
    db = tmp_path / "sessions.db"
    first = SessionManager(ModelHolder(model=model), db)
    for i in range(40):
        first.step("edited", bar_json(bars, i))
        first.step("holed", bar_json(bars, i))
    first.close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE bars SET close = close * 1.01 WHERE session = 'edited' AND seq = 20")
        raw.execute("DELETE FROM bars WHERE session = 'holed' AND seq = 7")
    srv, _ = _app(model, db)
    with srv:
        r = _stream(srv.url, "edited", bar_json(bars, 40))
        assert r.status_code == 409 and r.json()["state"] == "quarantined", r.text
        assert "row 20" in r.json()["error"] and "sha256" in r.json()["error"]
        r = _stream(srv.url, "holed", bar_json(bars, 40))
        assert r.status_code == 409 and "row 7 is missing" in r.json()["error"], r.text
        state = httpx.get(f"{srv.url}/v1/sessions/edited", headers=AUTH).json()
        assert "row 20" in state["quarantined"]
        assert _stream(srv.url, "fresh", bar_json(bars, 0)).status_code == 200


def test_a_log_from_before_checksums_is_migrated_and_replays(model, bars, tmp_path) -> None:
    db = tmp_path / "sessions.db"
    first = SessionManager(ModelHolder(model=model), db)
    for i in range(40):
        first.step("old", bar_json(bars, i))
    first.close()
    with sqlite3.connect(db) as raw:
        raw.execute("ALTER TABLE bars DROP COLUMN sha256")
    again = SessionManager(ModelHolder(model=model), db)
    rest = [again.step("old", bar_json(bars, i)).decision.action for i in range(40, 60)]
    assert rest == _actions(model, bars, 40, 60)


def test_sessions_are_listed_after_a_restart(model, bars, tmp_path) -> None:
    db = tmp_path / "sessions.db"
    first = SessionManager(ModelHolder(model=model), db)
    for i in range(25):
        first.step("p", bar_json(bars, i))
    for i in range(3):
        first.step("q", bar_json(bars, i))
    before = first.state("p")
    first.close()
    srv, _ = _app(model, db)
    with srv:
        assert httpx.get(f"{srv.url}/v1/sessions/p", headers=AUTH).json() == before
        listed = httpx.get(f"{srv.url}/v1/sessions", headers=AUTH).json()
        assert listed["sessions"] == [
            {"session_id": "p", "bars": 25},
            {"session_id": "q", "bars": 3},
        ]
        assert listed["in_memory"] == 0
        assert httpx.get(f"{srv.url}/v1/sessions/nope", headers=AUTH).status_code == 404


_SERVER = """
import sys
sys.path[:0] = [{tests!r}, {serve_tests!r}]
from conftest import make_ohlcv
from _tiny import TOKEN, tiny_model
from regime_trader.serve import ModelHolder, SessionManager, create_app
from regime_trader.serve.server import serve_forever
holder = ModelHolder(model=tiny_model(make_ohlcv(260, seed=1)))
sessions = SessionManager(holder, {db!r})
serve_forever(create_app(holder, token=TOKEN, sessions=sessions), "127.0.0.1", {port})
"""


def _serve_in_a_process(db: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    here = Path(__file__).resolve().parent
    code = _SERVER.format(tests=str(here.parent), serve_tests=str(here), db=str(db), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the service did not start: {proc.stderr.read().decode()[-2000:]}")


@pytest.mark.slow  # a service process (~5 s to import torch); the in-thread test above is fast
def test_sigterm_leaves_everything_in_sessions_db(bars, tmp_path) -> None:
    """A real SIGTERM to a service process: the WAL is checkpointed before it exits, so a
    copy of sessions.db alone (what a naive backup takes) holds every bar."""
    db = tmp_path / "sessions.db"
    proc, url = _serve_in_a_process(db)
    try:
        for i in range(25):
            assert _stream(url, "t", bar_json(bars, i)).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)  # the main file only, no -wal
    with sqlite3.connect(copy) as c:
        assert c.execute("SELECT COUNT(*) FROM bars").fetchone()[0] == 25
