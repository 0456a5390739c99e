"""Commands: serve, monitor, paper."""

from __future__ import annotations

from regime_trader.cli.app import app  # noqa: F401 - commands register on this app
