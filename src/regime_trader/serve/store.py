"""The SQLite bar log of stream sessions: bars, the side held after each, stored decisions.

One transaction per bar (WAL mode): the bar row, with the sha256 of its canonical form, and,
when the request carried a request id, the decision that was answered. A row whose checksum
does not match (edited or corrupt) or a missing row is never replayed: `load` raises
`LogCorruptError`. Any SQLite or OS error becomes `StorageError` (HTTP 503) after the
transaction is rolled back, so the bar is not consumed and can be resent. A thread of the log
copies the WAL into the main file every second (`_checkpointer`), so no commit waits for a
checkpoint; ``close`` checkpoints the rest (``PRAGMA wal_checkpoint(TRUNCATE)``), so a copy
of ``sessions.db`` alone holds everything; `backup` copies a live log with SQLite's backup API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from regime_trader.serve.refusals import QuarantinedError, StorageError

log = logging.getLogger("regime_trader.serve")
T = TypeVar("T")
PRICES = ("open", "high", "low", "close")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (session TEXT PRIMARY KEY, max_gap TEXT);
CREATE TABLE IF NOT EXISTS bars (
    session TEXT, seq INTEGER, timestamp TEXT, open REAL, high REAL, low REAL, close REAL,
    side REAL, sha256 TEXT, PRIMARY KEY (session, seq));
CREATE TABLE IF NOT EXISTS decisions (
    session TEXT, request_id TEXT, seq INTEGER, bar_sha256 TEXT, body TEXT,
    PRIMARY KEY (session, request_id));
CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, at REAL, pad BLOB);
"""
_COLUMNS = "session, seq, timestamp, open, high, low, close, side, sha256"
CHECKPOINT_SECONDS = 1.0  # the WAL is copied into the database this often (`_checkpointer`)
FALLBACK_CHECKPOINT_PAGES = 20_000  # the writer checkpoints itself past this many WAL pages


class LogCorruptError(QuarantinedError):
    """A logged row fails its checksum or a row is missing: the session is not replayed."""


@dataclass(frozen=True)
class LoggedBar:
    """One row of the log: a bar as accepted (UTC ISO timestamp, float prices)."""

    seq: int
    timestamp: str
    prices: tuple[float, float, float, float]
    side: float

    def as_bar(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp, **dict(zip(PRICES, self.prices, strict=True))}


@dataclass(frozen=True)
class StoredDecision:
    """The answer to a request id, stored with its bar."""

    request_id: str
    bar_sha256: str
    body: dict[str, Any]


def row_sha256(session: str, bar: LoggedBar) -> str:
    """sha256 of a row's canonical JSON (floats as their shortest round-trip repr)."""
    text = json.dumps(
        [session, bar.seq, bar.timestamp, *bar.prices, bar.side], separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


def bar_sha256(timestamp: str, prices: tuple[float, ...]) -> str:
    """sha256 of a bar's content (which bar a request id was used for)."""
    return hashlib.sha256(json.dumps([timestamp, *prices]).encode()).hexdigest()


class SessionLog:
    """The SQLite bar log (``path=None``: in memory, lost on restart)."""

    def __init__(self, path: str | Path | None) -> None:
        self.name = ":memory:" if path is None else Path(path).name
        target = ":memory:" if path is None else str(path)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db: sqlite3.Connection | None = sqlite3.connect(
            target, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        self.failure: str | None = None  # the last write's error, None once one succeeds
        self._known: set[str] = set()  # sessions whose row has committed in this log
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        _migrate(self._db)
        self._stop = threading.Event()
        self._checkpoints: threading.Thread | None = None
        if path is not None:  # checkpoints off the request path (`_checkpointer`)
            self._db.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_CHECKPOINT_PAGES}")
            args = (str(path), self._stop, CHECKPOINT_SECONDS)
            self._checkpoints = threading.Thread(
                target=_checkpointer, args=args, name="bar-log-wal", daemon=True
            )
            self._checkpoints.start()
            weakref.finalize(self, self._stop.set)  # a log never closed stops it too

    def _run(self, fn: Callable[[sqlite3.Connection], T], write: bool = False) -> T:
        """``fn(db)`` under the lock (in one transaction when ``write``); StorageError on any
        SQLite or OS error, after a rollback."""
        with self._lock:
            db = self._db
            if db is None:
                raise StorageError(f"bar log {self.name} is closed (the service is stopping)")
            try:
                if not write:
                    return fn(db)
                db.execute("BEGIN IMMEDIATE")
                out = fn(db)
                db.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                _rollback(db)
                if write:
                    self.failure = f"{type(exc).__name__}: {exc}"
                raise StorageError(
                    f"bar log {self.name}: {exc}; nothing was consumed: resend the request"
                ) from exc
            self.failure = None  # a write went through
            return out

    def append(
        self, session: str, bar: LoggedBar, max_gap: str | None, decision: StoredDecision | None
    ) -> None:
        """Log one accepted bar (and the decision answered for its request id)."""
        row = (session, bar.seq, bar.timestamp, *bar.prices, bar.side, row_sha256(session, bar))

        body = None if decision is None else json.dumps(decision.body, allow_nan=False)
        known = session in self._known

        def write(db: sqlite3.Connection) -> None:
            if not known:  # the session's row, once (it stays: nothing deletes sessions)
                db.execute("INSERT OR IGNORE INTO sessions VALUES (?, ?)", (session, max_gap))
            db.execute("INSERT INTO bars VALUES (?,?,?,?,?,?,?,?,?)", row)
            if decision is not None:
                values = (session, decision.request_id, bar.seq, decision.bar_sha256, body)
                db.execute("INSERT INTO decisions VALUES (?,?,?,?,?)", values)

        self._run(write, write=True)
        self._known.add(session)  # committed

    def load(self, session: str) -> tuple[str | None, list[LoggedBar]] | None:
        """``(max_gap, bars)`` of a logged session (checksums verified), None when unknown."""

        def read(db: sqlite3.Connection) -> tuple[Any, list[Any]] | None:
            head = db.execute("SELECT max_gap FROM sessions WHERE session = ?", (session,))
            first = head.fetchone()
            if first is None:
                return None
            q = f"SELECT {_COLUMNS} FROM bars WHERE session = ? ORDER BY seq"
            return first[0], db.execute(q, (session,)).fetchall()

        got = self._run(read)
        if got is None:
            return None
        return got[0], [_checked(session, i, r) for i, r in enumerate(got[1], start=1)]

    def decision(self, session: str, request_id: str) -> StoredDecision | None:
        """The stored answer to ``request_id`` in ``session``, None when there is none."""
        q = "SELECT bar_sha256, body FROM decisions WHERE session = ? AND request_id = ?"
        row = self._run(lambda db: db.execute(q, (session, request_id)).fetchone())
        return None if row is None else StoredDecision(request_id, row[0], json.loads(row[1]))

    def summary(self, session: str) -> dict[str, Any] | None:
        """Bars, last timestamp and side of a logged session, without replaying it."""
        q = "SELECT seq, timestamp, side FROM bars WHERE session = ? ORDER BY seq DESC LIMIT 1"
        row = self._run(lambda db: db.execute(q, (session,)).fetchone())
        if row is None:
            return None
        return {"session_id": session, "bars": row[0], "last_timestamp": row[1], "side": row[2]}

    def sessions(self, limit: int) -> list[dict[str, Any]]:
        """Logged sessions by name (at most ``limit``), each with its bar count."""
        q = "SELECT session, MAX(seq) FROM bars GROUP BY session ORDER BY session LIMIT ?"
        rows = self._run(lambda db: db.execute(q, (limit,)).fetchall())
        return [{"session_id": s, "bars": n} for s, n in rows]

    def count(self) -> int:
        q = "SELECT COUNT(*) FROM sessions"
        return int(self._run(lambda db: db.execute(q).fetchone()[0]))

    def healthy(self) -> str | None:
        """None when the log can be written; else the error. After a failed write it commits
        (and deletes) a 16 kB probe row, which needs free pages as a bar would, so a freed
        disk is noticed without waiting for a bar."""
        if self.failure is not None:
            with contextlib.suppress(StorageError):  # the failure stays set
                self._run(_probe, write=True)
        return self.failure

    def backup(self, dest: str | Path) -> None:
        """Copy the live log to ``dest`` (SQLite's online backup API: consistent, WAL included)."""
        target = sqlite3.connect(str(dest))
        try:
            self._run(lambda db: db.backup(target))
        finally:
            target.close()

    def close(self) -> None:
        """Checkpoint the WAL into the main file (TRUNCATE) and close the connection."""
        self._stop.set()
        if self._checkpoints is not None:
            self._checkpoints.join(timeout=5)
        with self._lock:
            db, self._db = self._db, None
        if db is None:
            return
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.error("bar log %s: WAL checkpoint failed: %s", self.name, exc)
        finally:
            db.close()


def _checkpointer(path: str, stop: threading.Event, every: float) -> None:
    """Copy the WAL into the database every ``every`` s, on a connection of its own.

    A bar's commit only appends to the WAL; SQLite's automatic checkpoint would copy the WAL
    into the main file (and fsync it) inside the commit of every ~500th bar, under the log's
    lock, holding that request and every one queued behind it (10-250 ms measured). A
    PASSIVE checkpoint never waits for, nor blocks, the writer; the writer restarts the WAL
    once one has copied it all. With ``synchronous=NORMAL`` this is also when the WAL is
    synced to disk: a power loss can lose the bars of the last ``every`` s (a crashed or
    killed process loses nothing: the WAL is replayed on open)."""
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:  # the writer checkpoints by itself (FALLBACK_CHECKPOINT_PAGES)
        log.error("bar log %s: no checkpoint thread: %s", Path(path).name, exc)
        return
    try:
        while not stop.wait(every):
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # a full disk, ...: the writer's own errors tell
                log.warning("bar log %s: checkpoint failed: %s", Path(path).name, exc)
    finally:
        db.close()


def _probe(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO health VALUES (NULL, ?, zeroblob(16384))", (time.time(),))
    db.execute("DELETE FROM health")


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is open (SQLite rolls back by itself on a full disk, and a
    second ROLLBACK would raise "cannot rollback - no transaction is active")."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.error("bar log rollback failed: %s", exc)


def _bar_of(row: tuple[Any, ...]) -> LoggedBar:
    """A `LoggedBar` from ``session, seq, timestamp, open, high, low, close, side[, sha]``."""
    prices = (float(row[3]), float(row[4]), float(row[5]), float(row[6]))
    return LoggedBar(int(row[1]), str(row[2]), prices, float(row[7]))


def _checked(session: str, seq: int, row: tuple[Any, ...]) -> LoggedBar:
    bar = _bar_of(row)
    if bar.seq != seq:
        raise LogCorruptError(
            f"session '{session}': bar-log row {seq} is missing (found row {bar.seq}); "
            "the session is quarantined and not replayed: start a new session"
        )
    if row[8] != row_sha256(session, bar):
        raise LogCorruptError(
            f"session '{session}': bar-log row {seq} ({bar.timestamp}) fails its sha256 "
            "(edited or corrupt); the session is quarantined and not replayed: start a new "
            "session, or restore the log from a backup"
        )
    return bar


def _migrate(db: sqlite3.Connection) -> None:
    """Give a log written before checksums existed its sha256 column (rows trusted once)."""
    cols = [r[1] for r in db.execute("PRAGMA table_info(bars)")]
    if "sha256" in cols:
        return
    log.warning("bar log: adding row checksums to %s (existing rows are trusted)", "bars")
    db.execute("ALTER TABLE bars ADD COLUMN sha256 TEXT")
    rows = db.execute(f"SELECT {_COLUMNS} FROM bars").fetchall()
    db.execute("BEGIN")
    for r in rows:
        sha = row_sha256(r[0], _bar_of(r))
        db.execute("UPDATE bars SET sha256 = ? WHERE session = ? AND seq = ?", (sha, r[0], r[1]))
    db.execute("COMMIT")
