"""The HTTP answer of every refusal (`serve.refusals`); anything else is a logged 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from regime_trader.errors import DataError
from regime_trader.serve.refusals import (
    FieldError,
    QuarantinedError,
    ReloadError,
    RequestIdConflict,
    SessionLimitError,
    SessionOrderError,
    StorageError,
)

log = logging.getLogger("regime_trader.serve")
Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """``[{"field": "bar.close", "message": ...}]`` of a pydantic validation error."""
    out = []
    for e in exc.errors():
        msg = str(e.get("msg", "invalid")).replace("Value error, ", "")
        if e.get("type") == "json_invalid":  # loc: ("body", character offset)
            out.append({"field": "body", "message": f"{msg} at character {e['loc'][-1]}"})
            continue
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "header")]
        out.append({"field": ".".join(loc) or "body", "message": msg})
    return out


def invalid(errors: list[dict[str, str]]) -> JSONResponse:
    text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse({"error": f"invalid request: {text}", "errors": errors}, status_code=422)


def _json(status: int, **extra: Any) -> Handler:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        return JSONResponse({"error": str(exc), **extra}, status_code=status, headers=headers)

    return handler


def install_handlers(app: FastAPI, on_storage_error: Callable[[], None]) -> None:
    """Map every refusal to its status; anything else is a logged 500 with no detail."""

    @app.exception_handler(RequestValidationError)
    async def bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid(field_errors(exc))

    @app.exception_handler(FieldError)
    async def bad_field(_: Request, exc: FieldError) -> JSONResponse:
        return invalid([{"field": exc.field, "message": exc.message}])

    @app.exception_handler(StorageError)
    async def storage(request: Request, exc: Exception) -> JSONResponse:
        on_storage_error()
        log.error("bar log failure: %s", exc)
        return await _json(503, state="unchanged")(request, exc)

    app.add_exception_handler(SessionOrderError, _json(409, state="unchanged"))
    app.add_exception_handler(QuarantinedError, _json(409, state="quarantined"))
    app.add_exception_handler(RequestIdConflict, _json(409, state="unchanged"))
    app.add_exception_handler(ReloadError, _json(409, swapped=False))
    app.add_exception_handler(SessionLimitError, _json(429, state="unchanged"))
    app.add_exception_handler(DataError, _json(422))

    @app.exception_handler(Exception)
    async def internal(_: Request, __: Exception) -> JSONResponse:
        # the server logs the traceback (the guard re-raises after counting the 500)
        return JSONResponse({"error": "internal error (logged by the service)"}, status_code=500)
