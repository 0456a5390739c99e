"""The ASGI layer in front of the app: key first, then the body size, then the app; counted.

Order per request: (1) the API key, from the headers alone, before a byte of the body is read
(every path but ``/healthz``: ``/openapi.json`` and unknown paths included): 401; (2) the body,
read here in full up to ``max_body`` bytes, ``Content-Length`` or chunked: 413 once over, 400
for a bad ``Content-Length``; (3) the app, fed the buffered body. Every answer, the guard's own
and a 500 from an exception alike, is counted in ``regime_trader_requests_total`` and timed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers

from regime_trader.serve.auth import ApiKey
from regime_trader.serve.metrics import ServiceMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
PUBLIC = frozenset({"/healthz"})


class Guard:
    """Auth, body limit and request metrics around ``app``."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, key: ApiKey, max_body: int) -> None:
        self.app, self.metrics, self.key, self.max_body = app, metrics, key, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: startup / shutdown
            return await self.app(scope, receive, send)
        endpoint = self.metrics.endpoint(scope["path"])
        start, status = time.perf_counter(), [500]
        try:
            await self._handle(scope, receive, _recording(send, status))
        finally:  # a raised exception was answered 500 by the app: count it too
            self.metrics.requests.labels(endpoint, str(status[0])).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if scope["path"] not in PUBLIC and not self.key.accepts(headers):
            auth = [(b"www-authenticate", b"Bearer")]
            return await answer(send, 401, {"error": self.key.REFUSAL}, auth)
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            return await answer(send, 400, {"error": f"bad Content-Length '{length[:20]}'"})
        if length is not None and int(length) > self.max_body:
            return await self._too_large(send)
        body = await self._read(receive)
        if body is None:
            return await self._too_large(send)
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes ``max_body`` (chunked bodies included)."""
        chunks, total = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return b""
            chunk = msg.get("body", b"")
            total += len(chunk)
            if total > self.max_body:
                return None
            chunks.append(chunk)
            if not msg.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await answer(send, 413, {"error": f"request body over {self.max_body} bytes"})


def _recording(send: Send, status: list[int]) -> Send:
    async def inner(msg: Message) -> None:
        if msg["type"] == "http.response.start":
            status[0] = msg["status"]
        await send(msg)

    return inner


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then defers to the real one."""
    sent = [False]

    async def inner() -> Message:
        if sent[0]:
            return await receive()
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return inner


async def answer(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a whole JSON response."""
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": data})
