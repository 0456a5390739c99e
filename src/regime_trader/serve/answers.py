"""The answers of ``POST /v1/decide`` (run in the thread pool): a stream bar, or a window."""

from __future__ import annotations

import email.message
import json
import math
import threading
import weakref
from typing import Any

import numpy as np
import pandas as pd
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from regime_trader.envs import spec
from regime_trader.errors import DataError
from regime_trader.policy.policy import Policy
from regime_trader.serve.decide import decide_bars
from regime_trader.serve.limits import PRICES, BarLimits
from regime_trader.serve.refusals import FieldError
from regime_trader.serve.schemas import Bar, DecideRequest
from regime_trader.serve.sessions import SessionManager
from regime_trader.serve.streaming import StepResult

_REQUEST: TypeAdapter[DecideRequest] = TypeAdapter(DecideRequest)
_EMPTY: dict[str, Any] = {
    "action": None,
    "action_code": None,
    "side": None,
    "target_position": None,
    "q_values": None,
    "regime_probabilities": None,
}


def parse_request(body: bytes, content_type: str | None) -> DecideRequest:
    """The request in ``body``, read as FastAPI reads a JSON body parameter (a JSON content
    type; no body, bad JSON or a bad field: `RequestValidationError`, located in ``body``).

    Run in the worker thread, so a 5,000-bar window is parsed and validated off the event
    loop (about 20 ms of pure Python)."""
    value: Any = body
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    if content_type and _is_json(content_type):
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            err = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
            raise RequestValidationError(
                [{**err, "input": {}, "ctx": {"error": exc.msg}}]
            ) from None
        except Exception:  # not UTF-8, nested too deep, ...: FastAPI's answer, a 400
            raise HTTPException(400, "There was an error parsing the body") from None
    try:
        return _REQUEST.validate_python(value, from_attributes=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def stream_answer(
    sessions: SessionManager, req: DecideRequest, request_id: str | None
) -> dict[str, Any]:
    """The next bar of ``req.session_id``; ``replayed`` when ``request_id`` was answered."""
    if req.bar is None or req.session_id is None:  # pragma: no cover - the schema ensures it
        raise FieldError("bar", "a stream request needs 'bar' and 'session_id'")
    session_id = req.session_id

    def render(res: StepResult) -> dict[str, Any]:
        body = res.decision.to_dict() if res.decision else dict(_EMPTY)
        return {
            "ready": res.decision is not None,
            "timestamp": res.timestamp.isoformat(),
            "session_id": session_id,
            "request_id": request_id,
            "bars_seen": res.bars_seen,
            "regime_label": res.regime,
            "features": [x if math.isfinite(x) else None for x in res.features.tolist()],
            **body,
            **model_part(res.model),
        }

    bar = req.bar.as_dict()
    body, replayed = sessions.respond(session_id, bar, req.max_gap, request_id, render)
    return {**body, "replayed": replayed}


def window_answer(model: Policy, req: DecideRequest, limits: BarLimits) -> dict[str, Any]:
    """The decision at the last bar of ``req.bars`` (no state)."""
    bars = req.bars or []
    frame = window_frame(bars)
    check_window(bars, limits, pd.DatetimeIndex(frame.index), frame)
    side = check_position(model, req.position)
    try:
        ts, d = decide_bars(model, frame, side)
    except DataError as exc:  # about these bars (too few, ...)
        raise FieldError("bars", str(exc)) from None
    except ValueError as exc:
        need = model.min_bars
        raise FieldError("bars", f"{exc}; a window needs at least {need} bars") from None
    if not np.isfinite(d.q).all():
        raise FieldError("bars", "the features of this window are not finite (check the prices)")
    return {
        "ready": True,
        "timestamp": ts.isoformat(),
        "session_id": None,
        "bars_seen": len(bars),
        **d.to_dict(),
        **model_part(model),
    }


def window_frame(bars: list[Bar]) -> pd.DataFrame:
    """`DecideRequest.frame` of ``bars`` (an OHLCV frame on a UTC index), built column by
    column: a third of the time for 5,000 bars (`tests/serve/test_speed_parity.py` holds
    the two equal)."""
    columns = {k: [getattr(b, k) for b in bars] for k in (*PRICES, "volume")}
    stamps = pd.to_datetime(pd.Series([b.timestamp for b in bars], dtype=object), utc=True)
    frame = pd.DataFrame(columns, index=pd.DatetimeIndex(stamps, name="timestamp"))
    if frame["volume"].isna().all():
        frame["volume"] = float("nan")
    return frame


def check_window(
    bars: list[Bar],
    limits: BarLimits,
    index: pd.DatetimeIndex | None = None,
    frame: pd.DataFrame | None = None,
) -> None:
    """Each bar within `limits` of the one before, timestamps increasing (`FieldError` naming
    the first bar that breaks a rule). ``index``/``frame``: `window_frame` of the bars."""
    frame = window_frame(bars) if frame is None else frame
    stamps = pd.DatetimeIndex(frame.index) if index is None else index
    ticks = stamps.asi8
    late = np.flatnonzero(ticks[1:] <= ticks[:-1])
    stop = len(bars) if not len(late) else int(late[0]) + 1  # the first bar out of order
    prices = frame[list(PRICES)].to_numpy(np.float64)[:stop]
    limits.check_many("bars", stamps[:stop], prices)  # the bars before it first, in order
    times = list(stamps[: stop + 1])
    if stop < len(bars):
        ts, prev = times[stop], times[stop - 1]
        raise FieldError(f"bars.{stop}.timestamp", f"{ts} is not after bars.{stop - 1} ({prev})")


def check_position(model: Policy, position: float | None) -> float | None:
    """``position`` if this model can hold it (long-only models cannot hold -1)."""
    allowed = spec.positions_for(model.config.env.allow_short)
    if position is not None and float(position) not in allowed:
        sides = ", ".join(f"{p:g}" for p in allowed)
        raise FieldError("position", f"{position:g} is not a side this model holds ({sides})")
    return position


_PARTS: weakref.WeakKeyDictionary[Policy, dict[str, Any]] = weakref.WeakKeyDictionary()
_PARTS_LOCK = threading.Lock()


def model_part(model: Policy | None) -> dict[str, Any]:
    """Which model and rule answered (empty when no model decided). Built once per model:
    the answer only reads it (it is serialised as is)."""
    if model is None:
        return {}
    key = (model.rule, model.name, model.version)
    with _PARTS_LOCK:
        part = _PARTS.get(model)
        if part is None or part["key"][0] is not key[0] or part["key"][1:] != key[1:]:
            part = _PARTS[model] = {
                "model": {"name": key[1], "version": key[2]},
                "thresholds": model.rule.to_dict(),
                "key": key,
            }
    return {"model": part["model"], "thresholds": part["thresholds"]}
