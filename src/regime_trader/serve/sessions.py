"""Named stream sessions: a bounded set in memory, rebuilt from the SQLite bar log.

Persistence is *rebuild*, not snapshot: each accepted bar is written, with the side held after
its decision, in one transaction before the reply goes out (`serve.store`). After a restart
(kill -9 included), an eviction or a model swap, a session is rebuilt on its next request by
replaying its logged bars (checksums verified) through a fresh feature pipeline and taking the
logged side: the state equals the one before.

A bar is stepped on a clone of the session; the clone replaces the session only once the bar
passed every check and its row committed, so a refused bar (422, 409) or a failed write (503)
changes nothing. With a request id, the answer is stored in the same transaction: a resend
(the reply was lost in a crash) gets the stored answer and changes nothing.

At most ``SessionLimits.max_sessions`` sessions stay in memory; a new one evicts idle ones
(``idle_seconds``), then the least recently used one (``evict="lru"``), else gets 429.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from regime_trader.policy.policy import Policy
from regime_trader.serve.limits import BarLimits, SessionLimits
from regime_trader.serve.refusals import QuarantinedError, RequestIdConflict, SessionLimitError
from regime_trader.serve.store import LoggedBar, SessionLog, StoredDecision, bar_sha256
from regime_trader.serve.streaming import StepResult, StreamSession, parse_bar

__all__ = ["Render", "SessionLog", "SessionManager"]
Render = Callable[[StepResult], dict[str, Any]]


@dataclass
class _Entry:
    """A session slot: its lock, its state once built, who is using it, when last used."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    session: StreamSession | None = None
    users: int = 0
    last_used: float = 0.0


class SessionManager:
    """Sessions by id, one lock each; bars go through `StreamSession.step` and the log."""

    def __init__(
        self,
        holder: Any,
        path: str | Path | None = None,
        max_sessions: int | None = None,
        *,
        limits: SessionLimits | None = None,
        bar_limits: BarLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.holder = holder
        self.log = SessionLog(path)
        self.limits = limits or SessionLimits.from_env()
        if max_sessions is not None:
            self.limits = replace(self.limits, max_sessions=max_sessions)
        self.bar_limits = bar_limits or BarLimits.from_env()
        self.evicted = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._quarantined: dict[str, str] = {}
        self._guard = threading.Lock()
        self._clock = clock

    def __len__(self) -> int:
        """Sessions in memory."""
        return len(self._entries)

    def step(self, session_id: str, bar: dict[str, Any], max_gap: str | None = None) -> StepResult:
        """One bar for ``session_id``; a refused bar raises and changes nothing."""
        with self._use(session_id) as entry:
            return self._step(entry, session_id, bar, max_gap, None, None)[0]

    def respond(
        self,
        session_id: str,
        bar: dict[str, Any],
        max_gap: str | None,
        request_id: str | None,
        render: Render,
    ) -> tuple[dict[str, Any], bool]:
        """``(answer, replayed)`` for one bar: ``render(step)``, or the answer stored for
        ``request_id`` when it was already answered (then nothing changes)."""
        with self._use(session_id) as entry:
            if request_id is not None:
                stored = self._stored(session_id, request_id, bar)
                if stored is not None:
                    return stored, True
            body = self._step(entry, session_id, bar, max_gap, request_id, render)[1]
        assert body is not None
        return body, False

    def preload(self, session_id: str, bars: list[dict], max_gap: str | None = None) -> None:
        """Start a session from history: features, regimes and window from ``bars``, no
        decisions (the side stays flat); logged like streamed bars."""
        with self._use(session_id) as entry:
            model = self.holder.current
            session = self._session(entry, session_id, model, max_gap)
            for bar in bars:
                clone = session.clone()
                res = clone.step(bar, model, decide=False, limits=self.bar_limits)
                self.log.append(session_id, _logged(clone, res), _gap_text(clone), None)
                session = entry.session = clone

    def state(self, session_id: str) -> dict[str, Any] | None:
        """Public state of a session, from memory or else from the log (None when unknown)."""
        with self._guard:
            entry = self._entries.get(session_id)
        s = None if entry is None else entry.session
        if s is None:
            state = self.log.summary(session_id)
        else:
            last = None if s.last_ts is None else s.last_ts.isoformat()
            state = {"session_id": session_id, "bars": s.n_bars, "last_timestamp": last}
            state["side"] = s.side
        if state is not None and session_id in self._quarantined:
            state["quarantined"] = self._quarantined[session_id]
        return state

    def sessions(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Logged sessions (restarts included), each with its bar count."""
        return self.log.sessions(limit)

    def close(self) -> None:
        """Checkpoint and close the bar log (the service's shutdown)."""
        self.log.close()

    def _step(
        self,
        entry: _Entry,
        session_id: str,
        bar: dict[str, Any],
        max_gap: str | None,
        request_id: str | None,
        render: Render | None,
    ) -> tuple[StepResult, dict[str, Any] | None]:
        model = self.holder.current
        clone = self._session(entry, session_id, model, max_gap).clone()
        result = clone.step(bar, model, limits=self.bar_limits)
        body = None if render is None else render(result)
        stored = None
        if request_id is not None and body is not None:
            stored = StoredDecision(request_id, _bar_sha(result), body)
        self.log.append(session_id, _logged(clone, result), _gap_text(clone), stored)
        entry.session = clone  # the bar is in: the clone is the session now
        return result, body

    def _session(
        self, entry: _Entry, session_id: str, model: Policy, max_gap: str | None
    ) -> StreamSession:
        if session_id in self._quarantined:
            raise QuarantinedError(self._quarantined[session_id])
        if entry.session is None or entry.session.model is not model:
            entry.session = self._rebuild(session_id, model, max_gap)
        return entry.session

    def _rebuild(self, session_id: str, model: Policy, max_gap: str | None) -> StreamSession:
        try:
            logged = self.log.load(session_id)
        except QuarantinedError as exc:
            self._quarantined[session_id] = str(exc)
            raise
        gap = logged[0] if logged else max_gap
        session = StreamSession(session_id, model, pd.Timedelta(gap) if gap else None)
        rows = logged[1] if logged else []
        for row in rows:
            session.step(row.as_bar(), model, decide=False)
        if rows:
            session.side = rows[-1].side
        return session

    def _stored(
        self, session_id: str, request_id: str, bar: dict[str, Any]
    ) -> dict[str, Any] | None:
        stored = self.log.decision(session_id, request_id)
        if stored is None:
            return None
        ts, px = parse_bar(bar)
        if bar_sha256(ts.isoformat(), tuple(px.values())) != stored.bar_sha256:
            raise RequestIdConflict(
                f"session '{session_id}': request id '{request_id}' was already used for "
                "another bar; give each new bar a new id"
            )
        return stored.body

    @contextmanager
    def _use(self, session_id: str) -> Iterator[_Entry]:
        entry = self._admit(session_id)
        try:
            with entry.lock:
                yield entry
        finally:
            with self._guard:
                entry.users -= 1
                entry.last_used = self._clock()
                unused = entry.session is None and entry.users == 0  # nothing was built
                if unused and self._entries.get(session_id) is entry:
                    del self._entries[session_id]

    def _admit(self, session_id: str) -> _Entry:
        with self._guard:
            entry = self._entries.get(session_id)
            if entry is None:
                self._make_room()
                entry = self._entries[session_id] = _Entry(last_used=self._clock())
            self._entries.move_to_end(session_id)
            entry.users += 1
            return entry

    def _make_room(self) -> None:
        """Evict idle sessions, then the least recently used one; 429 when none can go."""
        lim, now = self.limits, self._clock()
        if lim.idle_seconds is not None:
            for sid, e in list(self._entries.items()):
                if e.users == 0 and now - e.last_used >= lim.idle_seconds:
                    self._evict(sid)
        if len(self._entries) < lim.max_sessions:
            return
        if lim.evict == "lru":
            idle = next((sid for sid, e in self._entries.items() if e.users == 0), None)
            if idle is not None:
                self._evict(idle)
                return
        raise SessionLimitError(
            f"{len(self._entries)} stream sessions in memory, the limit (eviction: {lim.evict}); "
            "retry later, or raise REGIME_TRADER_MAX_SESSIONS"
        )

    def _evict(self, session_id: str) -> None:
        del self._entries[session_id]  # rebuilt from the log on its next bar
        self.evicted += 1


def _logged(session: StreamSession, result: StepResult) -> LoggedBar:
    return LoggedBar(session.n_bars, result.timestamp.isoformat(), result.prices, session.side)


def _bar_sha(result: StepResult) -> str:
    return bar_sha256(result.timestamp.isoformat(), result.prices)


def _gap_text(session: StreamSession) -> str | None:
    return None if session.max_gap is None else str(session.max_gap)
