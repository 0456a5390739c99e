"""`create_app`: the decision service (FastAPI). docs/deployment.md shows it in use.

Routes: ``GET /healthz`` (no key), ``POST /v1/decide``, ``GET /v1/model``, ``POST /v1/reload``,
``GET /v1/sessions``, ``GET /v1/sessions/{id}``, ``GET /metrics`` (Prometheus text),
``GET /openapi.json``. `serve.guard` checks the key on the headers and the body size before
anything is parsed, and counts every answer; `serve.handlers` maps each refusal to its status.
Decisions run in worker threads (never on the event loop), the body's JSON parsing and
validation (`serve.answers.parse_request`) and the answer's encoding with them: stream bars on
up to ``stream_threads`` workers, window requests on their own ``window_threads`` (default 1),
so a 5,000-bar window never holds the event loop or every worker. On shutdown the bar log's WAL is
checkpointed into ``sessions.db`` and the log closed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter

from regime_trader.errors import DataError
from regime_trader.serve.answers import parse_request, stream_answer, window_answer
from regime_trader.serve.auth import ApiKey
from regime_trader.serve.guard import Guard
from regime_trader.serve.handlers import install_handlers
from regime_trader.serve.metrics import ServiceMetrics
from regime_trader.serve.model import ModelHolder
from regime_trader.serve.redact import redact_text
from regime_trader.serve.refusals import FieldError, SessionOrderError
from regime_trader.serve.schemas import REQUEST_ID_PATTERN, DecideRequest
from regime_trader.serve.sessions import SessionManager

MAX_BODY = 1_000_000  # bytes; a 5,000-bar window is ~0.6 MB of JSON
STREAM_THREADS = 8  # workers deciding stream bars at once (see docs/deployment.md, Speed)
WINDOW_THREADS = 1  # workers deciding window requests at once


def create_app(
    holder: ModelHolder,
    *,
    token: str,
    sessions: SessionManager | None = None,
    max_body: int = MAX_BODY,
    stream_threads: int = STREAM_THREADS,
    window_threads: int = WINDOW_THREADS,
) -> Guard:
    """The ASGI app serving ``holder``'s model (behind the key, size and metrics guard).

    ``stream_threads`` / ``window_threads``: how many stream bars / window requests are
    decided at once (each in its own pool of worker threads; the rest wait their turn)."""
    metrics = ServiceMetrics()
    sessions = SessionManager(holder) if sessions is None else sessions
    app = FastAPI(
        title="regime-trader decision service",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(sessions),
    )
    app.state.holder, app.state.sessions, app.state.metrics = holder, sessions, metrics
    metrics.set_model(holder.current.name, holder.current.version)
    holder.on_swap(lambda m: metrics.swapped(m.name, m.version))
    install_handlers(app, metrics.storage_errors.inc)
    _service_routes(app, holder, sessions, metrics)
    limiters = Limiters(
        anyio.CapacityLimiter(stream_threads), anyio.CapacityLimiter(window_threads)
    )
    _decide_route(app, holder, sessions, metrics, limiters)
    _document_body(app)
    return Guard(app, metrics, ApiKey(token), max_body)


def _lifespan(sessions: SessionManager) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await anyio.to_thread.run_sync(sessions.close)  # WAL checkpoint (TRUNCATE), close

    return lifespan


def _service_routes(
    app: FastAPI, holder: ModelHolder, sessions: SessionManager, metrics: ServiceMetrics
) -> None:
    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        problem = await anyio.to_thread.run_sync(sessions.log.healthy)
        if problem is not None:
            body = {"status": "unavailable", "storage": redact_text(problem)}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/v1/model")
    async def model_info() -> dict[str, Any]:
        return holder.info()

    @app.post("/v1/reload")
    async def reload() -> dict[str, Any]:
        swapped = await anyio.to_thread.run_sync(holder.reload)  # ReloadError: 409
        return {"swapped": swapped, "version": holder.current.version}

    @app.get("/v1/sessions")
    async def session_list(limit: int = Query(1000, ge=1, le=10_000)) -> dict[str, Any]:
        listed = await anyio.to_thread.run_sync(sessions.sessions, limit)
        return {"sessions": listed, "in_memory": len(sessions)}

    @app.get("/v1/sessions/{session_id}")
    async def session_state(session_id: str) -> JSONResponse:
        state = await anyio.to_thread.run_sync(sessions.state, session_id)
        if state is None:
            return JSONResponse({"error": f"no session '{session_id}'"}, status_code=404)
        return JSONResponse(state)

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics.sessions.set(len(sessions))
        return Response(metrics.text(), media_type="text/plain; version=0.0.4")


@dataclass(frozen=True)
class Limiters:
    """How many stream bars and window requests are decided at once (worker threads)."""

    stream: anyio.CapacityLimiter
    window: anyio.CapacityLimiter


@dataclass
class _Job:
    """One ``POST /v1/decide``: parsed, decided and encoded in a worker thread."""

    body: bytes
    content_type: str | None
    header_id: str | None
    start: float
    req: DecideRequest | None = None
    compute_s: float = 0.0
    action: str | None = None

    @property
    def stream(self) -> bool:
        return self.req is not None and self.req.bar is not None

    def parse(self) -> DecideRequest:
        if self.req is None:
            self.req = parse_request(self.body, self.content_type)
        return self.req

    def answer(
        self, holder: ModelHolder, sessions: SessionManager, streams_only: bool
    ) -> bytes | None:
        """The answer's JSON (pydantic's encoder, as FastAPI's for a dict); None for a window
        request when ``streams_only`` (it is answered in the window pool)."""
        req = self.parse()
        if streams_only and req.bar is None:
            return None
        if req.bar is not None:
            rid = _request_id(req.request_id, self.header_id)
            out = stream_answer(sessions, req, rid)
        else:
            out = window_answer(holder.current, req, sessions.bar_limits)
        self.compute_s = time.perf_counter() - self.start
        self.action = None if out.get("replayed") else out["action"]
        out["latency_ms"] = self.compute_s * 1e3
        return _ANSWER.dump_json(out)


_ANSWER: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
_BIG_BODY = 64_000  # bytes: a body this big is a window (a stream bar is ~250 bytes)


def _decide_route(
    app: FastAPI,
    holder: ModelHolder,
    sessions: SessionManager,
    metrics: ServiceMetrics,
    limiters: Limiters,
) -> None:
    @app.post("/v1/decide", openapi_extra=_BODY_DOC)
    async def decide(
        request: Request,
        idempotency_key: str | None = Header(None, pattern=REQUEST_ID_PATTERN),
    ) -> Response:
        start = time.perf_counter()
        job = _Job(
            await request.body(), request.headers.get("content-type"), idempotency_key, start
        )
        run = anyio.to_thread.run_sync
        try:
            data = None
            if len(job.body) <= _BIG_BODY:  # a stream bar, in one hop; a window moves on
                data = await run(job.answer, holder, sessions, True, limiter=limiters.stream)
            if data is None:
                data = await run(job.answer, holder, sessions, False, limiter=limiters.window)
        except DataError as exc:
            if job.stream:
                reason = "order" if isinstance(exc, SessionOrderError) else "invalid"
                metrics.refused.labels(reason).inc()
            raise
        metrics.inference.labels("stream" if job.stream else "window").observe(job.compute_s)
        if job.action is not None:
            metrics.decisions.labels(job.action).inc()
        return Response(data, media_type="application/json")


def _request_id(body: str | None, header: str | None) -> str | None:
    if body is not None and header is not None and body != header:
        raise FieldError("request_id", "differs from the Idempotency-Key header; give one")
    return body if body is not None else header


_BODY_DOC = {  # the body is parsed in the worker (`parse_request`), so FastAPI is told its schema
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecideRequest"}}},
    }
}


def _document_body(app: FastAPI) -> None:
    """Put `DecideRequest` (and the models it uses) in the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            body = DecideRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            models = schema.setdefault("components", {}).setdefault("schemas", {})
            models.update(body.pop("$defs", {}))
            models["DecideRequest"] = body
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
