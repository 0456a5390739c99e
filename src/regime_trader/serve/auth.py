"""API-key auth: ``Authorization: Bearer TOKEN`` or ``X-API-Key: TOKEN``."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from fastapi import HTTPException, Request

from regime_trader.errors import ConfigError

ENV_VAR = "REGIME_TRADER_API_KEY"
MIN_LENGTH = 16


def load_token(token_file: Path | None = None) -> str:
    """The API key from ``token_file`` (first line) or ``$REGIME_TRADER_API_KEY``."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {token_file}: {exc.strerror}") from None
        source = str(token_file)
    else:
        token = os.environ.get(ENV_VAR, "").strip()
        source = f"${ENV_VAR}"
    if not token:
        raise ConfigError(f"no API key: set {ENV_VAR} or give --token-file FILE")
    if len(token) < MIN_LENGTH:
        raise ConfigError(f"the API key in {source} is shorter than {MIN_LENGTH} characters")
    return token


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


class ApiKey:
    """A FastAPI dependency that answers 401 unless the request carries the key."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def __call__(self, request: Request) -> None:
        given = _presented(request)
        if given is None or not hmac.compare_digest(given.encode(), self._token):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong API key (Authorization: Bearer TOKEN or X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )
