"""Named stream sessions, persisted as an append-only bar log in SQLite.

Persistence is *rebuild*, not snapshot: each accepted bar is written, with the side held after
its decision, in one transaction before the reply goes out. After a restart (kill -9 included)
a session is rebuilt on its next request by replaying its logged bars through a fresh feature
pipeline (no network calls) and taking the logged side: the state equals the one before the
kill. A bar whose transaction did not commit got no reply; resending it is accepted. WAL mode,
so a crash mid-write leaves the last committed row intact.

When the served model changes (a promoted champion), a session is rebuilt the same way with the
new model's features and keeps its side.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from regime_trader.serve.streaming import PRICES, StepResult, StreamSession

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (session TEXT PRIMARY KEY, max_gap TEXT);
CREATE TABLE IF NOT EXISTS bars (
    session TEXT, seq INTEGER, timestamp TEXT, open REAL, high REAL, low REAL, close REAL,
    side REAL, PRIMARY KEY (session, seq));
"""


class SessionLog:
    """The SQLite bar log (``path=None``: in memory, lost on restart)."""

    def __init__(self, path: str | Path | None) -> None:
        target = ":memory:" if path is None else str(path)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def append(self, session: str, seq: int, bar: dict, side: float, max_gap: str | None) -> None:
        row = (session, seq, str(bar["timestamp"]), *(float(bar[k]) for k in PRICES), side)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("INSERT OR IGNORE INTO sessions VALUES (?, ?)", (session, max_gap))
                self._db.execute("INSERT INTO bars VALUES (?,?,?,?,?,?,?,?)", row)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def load(self, session: str) -> tuple[str | None, list[dict[str, Any]], float] | None:
        """``(max_gap, bars, last side)`` of a logged session, None when unknown."""
        with self._lock:
            head = self._db.execute(
                "SELECT max_gap FROM sessions WHERE session = ?", (session,)
            ).fetchone()
            if head is None:
                return None
            rows = self._db.execute(
                "SELECT timestamp, open, high, low, close, side FROM bars WHERE session = ? "
                "ORDER BY seq",
                (session,),
            ).fetchall()
        bars = [dict(zip(("timestamp", *PRICES), r[:5], strict=True)) for r in rows]
        return head[0], bars, (rows[-1][5] if rows else 0.0)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])


class SessionManager:
    """Sessions by id, one lock each; bars go through `StreamSession.step` and the log."""

    def __init__(self, holder: Any, path: str | Path | None = None, max_sessions: int = 1000):
        self.holder = holder
        self.log = SessionLog(path)
        self.max_sessions = max_sessions
        self._sessions: dict[str, StreamSession] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, session_id: str) -> threading.Lock:
        with self._guard:
            if session_id not in self._locks:
                if len(self._locks) >= self.max_sessions:
                    raise OverflowError(f"too many sessions (limit {self.max_sessions})")
                self._locks[session_id] = threading.Lock()
            return self._locks[session_id]

    def step(self, session_id: str, bar: dict, max_gap: str | None = None) -> StepResult:
        """One bar for ``session_id``; raises DataError (state unchanged) on a refused bar."""
        with self._lock_for(session_id):
            model = self.holder.current
            session = self._sessions.get(session_id)
            if session is None or session.model is not model:
                session = self._rebuild(session_id, model, max_gap)
            result = session.step(bar, model)
            try:
                self.log.append(session_id, session.n_bars, bar, session.side, _gap_text(session))
            except BaseException:
                self._sessions.pop(session_id, None)  # rebuilt from the log next time
                raise
            return result

    def preload(self, session_id: str, bars: list[dict], max_gap: str | None = None) -> None:
        """Start a session from history: features, regimes and window from ``bars``, no
        decisions (the side stays flat); logged like streamed bars."""
        with self._lock_for(session_id):
            model = self.holder.current
            session = self._sessions.get(session_id) or self._rebuild(session_id, model, max_gap)
            for bar in bars:
                session.step(bar, model, decide=False)
                self.log.append(session_id, session.n_bars, bar, session.side, _gap_text(session))

    def _rebuild(self, session_id: str, model: Any, max_gap: str | None) -> StreamSession:
        logged = self.log.load(session_id)
        gap = logged[0] if logged else max_gap
        session = StreamSession(session_id, model, pd.Timedelta(gap) if gap else None)
        if logged:
            for bar in logged[1]:
                session.step(bar, model, decide=False)
            session.side = float(logged[2])
        self._sessions[session_id] = session
        return session

    def state(self, session_id: str) -> dict[str, Any] | None:
        """Public state of a session (None when unknown)."""
        s = self._sessions.get(session_id)
        if s is None:
            return None
        last = None if s.last_ts is None else s.last_ts.isoformat()
        return {"session_id": session_id, "bars": s.n_bars, "last_timestamp": last, "side": s.side}


def _gap_text(session: StreamSession) -> str | None:
    return None if session.max_gap is None else str(session.max_gap)
