"""API-key auth: ``Authorization: Bearer TOKEN`` or ``X-API-Key: TOKEN``.

`serve.guard` checks it on the headers before the body is read; the service does not start
without a key (`load_token`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
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


def _presented(headers: Mapping[str, str]) -> str | None:
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return headers.get("x-api-key")


class ApiKey:
    """The key check: `accepts` on headers (the guard), or a FastAPI dependency (401)."""

    REFUSAL = "missing or wrong API key (Authorization: Bearer TOKEN or X-API-Key)"

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def accepts(self, headers: Mapping[str, str]) -> bool:
        given = _presented(headers)
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    def __call__(self, request: Request) -> None:
        if not self.accepts(request.headers):
            raise HTTPException(
                status_code=401, detail=self.REFUSAL, headers={"WWW-Authenticate": "Bearer"}
            )
