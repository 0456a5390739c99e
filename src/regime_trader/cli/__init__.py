"""`regime-trader` command line: thin `typer` commands over `regime_trader.workflows`.

Exit codes: 0 success, 2 bad input or usage (one line on stderr, no traceback), 1 internal
error (``REGIME_TRADER_DEBUG=1`` re-raises it), 130 interrupted.
"""

from __future__ import annotations

import sys

from regime_trader.cli import demo_cmd as _demo  # noqa: F401 - registers demo
from regime_trader.cli import evaluation_cmds as _evaluation  # noqa: F401 - calibrate, evaluate, ...
from regime_trader.cli import production as _production  # noqa: F401 - package, registry, abtest
from regime_trader.cli import serving as _serving  # noqa: F401 - serve, monitor, paper
from regime_trader.cli import training as _training  # noqa: F401 - registers train, tune, backtest
from regime_trader.cli.app import app
from regime_trader.cli.base import run_app


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    return run_app(app, argv)


def main() -> None:
    """Console-script entry point (``regime-trader``)."""
    sys.exit(run())


__all__ = ["app", "main", "run"]
