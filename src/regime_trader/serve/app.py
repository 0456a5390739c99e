"""`create_app`: the decision service (FastAPI). docs/deployment.md shows it in use.

Routes: ``GET /healthz`` (no key), ``POST /v1/decide``, ``GET /v1/model``, ``POST /v1/reload``,
``GET /v1/sessions/{id}``, ``GET /metrics`` (Prometheus text). Decisions run in the thread
pool (never on the event loop); bodies over ``max_body`` bytes get 413 before they are read.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from regime_trader.errors import DataError
from regime_trader.serve.auth import ApiKey
from regime_trader.serve.decide import decide_bars
from regime_trader.serve.metrics import ServiceMetrics
from regime_trader.serve.model import ModelHolder
from regime_trader.serve.schemas import DecideRequest
from regime_trader.serve.sessions import SessionManager
from regime_trader.serve.streaming import SessionOrderError

MAX_BODY = 1_000_000  # bytes; a 5,000-bar window is ~0.6 MB of JSON


class _Guard:
    """ASGI middleware: 413 on oversized bodies; request counts and latency by endpoint."""

    def __init__(self, app: Any, metrics: ServiceMetrics, max_body: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        endpoint = self.metrics.endpoint(scope["path"])
        start, status = time.perf_counter(), [500]
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and int(length or 0) > self.max_body:
            await _too_large(send, self.max_body)
            status[0] = 413
        else:
            await self.app(scope, self._limited(receive), self._seen(send, status))
        self.metrics.requests.labels(endpoint, str(status[0])).inc()
        self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)

    def _limited(self, receive: Any) -> Any:
        total = [0]

        async def inner() -> dict:
            msg = await receive()
            total[0] += len(msg.get("body", b""))
            if total[0] > self.max_body:  # chunked bodies without a length header
                raise _BodyTooLarge
            return msg

        return inner

    @staticmethod
    def _seen(send: Any, status: list[int]) -> Any:
        async def inner(msg: dict) -> None:
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        return inner


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = f'{{"error": "request body over {limit} bytes"}}'.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        msg = str(e.get("msg", "invalid")).replace("Value error, ", "")
        out.append({"field": ".".join(loc) or "body", "message": msg})
    return out


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = _field_errors(exc)
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errs)
        return JSONResponse({"error": f"invalid request: {text}", "errors": errs}, status_code=422)

    @app.exception_handler(_BodyTooLarge)
    async def too_large(_: Request, __: Exception) -> JSONResponse:
        return JSONResponse({"error": "request body too large"}, status_code=413)

    @app.exception_handler(SessionOrderError)
    async def order(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc), "state": "unchanged"}, status_code=409)

    @app.exception_handler(DataError)
    async def bad_data(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)


def create_app(
    holder: ModelHolder,
    *,
    token: str,
    sessions: SessionManager | None = None,
    max_body: int = MAX_BODY,
) -> Any:
    """The ASGI app serving ``holder``'s model (wrapped in the size/metrics guard)."""
    app = FastAPI(title="regime-trader decision service", docs_url=None, redoc_url=None)
    metrics = ServiceMetrics()
    sessions = sessions or SessionManager(holder)
    key = Depends(ApiKey(token))
    app.state.holder, app.state.sessions, app.state.metrics = holder, sessions, metrics
    metrics.set_model(holder.current.name, holder.current.version)
    _install_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/model", dependencies=[key])
    async def model_info() -> dict:
        return holder.info()

    @app.post("/v1/reload", dependencies=[key])
    async def reload() -> dict:
        swapped = await anyio.to_thread.run_sync(holder.reload)
        if swapped:
            metrics.swaps.inc()
            metrics.set_model(holder.current.name, holder.current.version)
        return {"swapped": swapped, "version": holder.current.version}

    @app.get("/v1/sessions/{session_id}", dependencies=[key])
    async def session_state(session_id: str) -> JSONResponse:
        state = sessions.state(session_id)
        if state is None:
            return JSONResponse({"error": f"no session '{session_id}' in memory"}, status_code=404)
        return JSONResponse(state)

    @app.get("/metrics", dependencies=[key])
    async def prometheus() -> Response:
        return Response(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/decide", dependencies=[key])
    async def decide(req: DecideRequest) -> dict:
        start = time.perf_counter()
        mode = "stream" if req.bar is not None else "window"
        try:
            out = await anyio.to_thread.run_sync(_decide, holder, sessions, req)
        except SessionOrderError:
            metrics.refused.inc()
            raise
        metrics.inference.labels(mode).observe(time.perf_counter() - start)
        if out["action"] is not None:
            metrics.decisions.labels(out["action"]).inc()
        out["latency_ms"] = (time.perf_counter() - start) * 1e3
        return out

    return _Guard(app, metrics, max_body)


_EMPTY = {
    "action": None,
    "action_code": None,
    "side": None,
    "target_position": None,
    "q_values": None,
    "regime_probabilities": None,
}


def _decide(holder: ModelHolder, sessions: SessionManager, req: DecideRequest) -> dict:
    """Run one decision (thread pool)."""
    if req.bar is not None:
        res = sessions.step(req.session_id, req.bar.as_dict(), req.max_gap)
        body = res.decision.to_dict() if res.decision else dict(_EMPTY)
        return {
            "ready": res.decision is not None,
            "timestamp": res.timestamp.isoformat(),
            "session_id": req.session_id,
            "bars_seen": res.bars_seen,
            "regime_label": res.regime,
            "features": [float(x) if np.isfinite(x) else None for x in res.features],
            **body,
            **_model_part(res.model),
        }
    model = holder.current
    try:
        ts, d = decide_bars(model, req.frame(), req.position)
    except ValueError as exc:
        if isinstance(exc, DataError):
            raise
        need = model.min_bars
        raise DataError(f"bars: {exc}; a window needs at least {need} bars") from None
    return {
        "ready": True,
        "timestamp": ts.isoformat(),
        "session_id": None,
        "bars_seen": len(req.bars or []),
        **d.to_dict(),
        **_model_part(model),
    }


def _model_part(model: Any) -> dict:
    return {
        "model": {"name": model.name, "version": model.version},
        "thresholds": model.rule.to_dict(),
    }
