"""SQLite records of a monitored model: decisions, metric snapshots, drift, alerts.

One file, WAL journal, one transaction per write: a killed process leaves every committed row
readable and no half-written one.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pandas as pd

from regime_trader.errors import DataError
from regime_trader.monitoring.alerts import Alert

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    step INTEGER PRIMARY KEY, timestamp TEXT NOT NULL, model_version TEXT, action INTEGER,
    position REAL, ret REAL, regime INTEGER, latency_ms REAL);
CREATE TABLE IF NOT EXISTS metrics (
    step INTEGER, timestamp TEXT, metric TEXT, value REAL, lo REAL, hi REAL);
CREATE TABLE IF NOT EXISTS drift (
    step INTEGER, timestamp TEXT, feature TEXT, psi REAL, psi_limit REAL, ratio REAL,
    drifted INTEGER);
CREATE TABLE IF NOT EXISTS alerts (
    step INTEGER, timestamp TEXT, kind TEXT, subject TEXT, value REAL, lo REAL, hi REAL,
    message TEXT, model_version TEXT);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
"""
TABLES = ("decisions", "metrics", "drift", "alerts")


class MonitorStore:
    """The monitoring database at ``path`` (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def open_existing(cls, path: str | Path) -> MonitorStore:
        """Open a database written by a monitor; DataError when it is not one."""
        p = Path(path)
        if not p.is_file():
            raise DataError(f"monitoring database '{p}' not found")
        try:
            store = cls(p)
            store.frame("decisions")
        except sqlite3.DatabaseError as exc:
            raise DataError(f"'{p}' is not a monitoring database ({exc})") from None
        return store

    def _write(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def add_decision(self, row: tuple) -> None:
        """(step, timestamp, model_version, action, position, ret, regime, latency_ms)."""
        self._write("INSERT OR REPLACE INTO decisions VALUES (?,?,?,?,?,?,?,?)", [row])

    def set_return(self, step: int, ret: float) -> None:
        self._write("UPDATE decisions SET ret = ? WHERE step = ?", [(ret, step)])

    def add_metrics(self, rows: list[tuple]) -> None:
        self._write("INSERT INTO metrics VALUES (?,?,?,?,?,?)", rows)

    def add_drift(self, rows: list[tuple]) -> None:
        """(step, timestamp, feature, psi, psi_limit, ratio, drifted)."""
        self._write("INSERT INTO drift VALUES (?,?,?,?,?,?,?)", rows)

    def add_alert(self, step: int, alert: Alert) -> None:
        a = alert
        row = (
            step,
            a.timestamp,
            a.kind,
            a.subject,
            a.value,
            a.lo,
            a.hi,
            a.message,
            a.model_version,
        )
        self._write("INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?)", [row])

    def set_info(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO info VALUES (?, ?)", [(key, value)])

    def info(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM info").fetchall())

    def frame(self, table: str) -> pd.DataFrame:
        """One table as a DataFrame (``table`` in ``TABLES``)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        with self._lock:
            return pd.read_sql_query(f"SELECT * FROM {table}", self._db)  # noqa: S608 - fixed names

    def close(self) -> None:
        with self._lock:
            self._db.close()
