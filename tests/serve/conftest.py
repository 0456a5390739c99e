"""Fixtures: a tiny model and the service on a free loopback port (uvicorn in a thread)."""

from __future__ import annotations

import pytest
from _tiny import TOKEN, tiny_model

from regime_trader.serve import ModelHolder, ServerThread, SessionManager, create_app


@pytest.fixture(scope="module")
def bars(ohlcv_factory):
    return ohlcv_factory(260, seed=1)


@pytest.fixture(scope="module")
def model(bars):
    return tiny_model(bars)


@pytest.fixture
def service(model, tmp_path):
    """(url, holder, sessions) of a running service with a 20 kB body limit."""
    holder = ModelHolder(model=model)
    sessions = SessionManager(holder, tmp_path / "sessions.db")
    app = create_app(holder, token=TOKEN, sessions=sessions, max_body=20_000)
    with ServerThread(app) as srv:
        yield srv.url, holder, sessions
