"""CLI plumbing: choices, shared options, tidy help output and the project's exit codes.

Exit codes: 0 success, 2 bad input or usage (one line on stderr, no traceback), 1 internal error,
130 interrupted.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from regime_trader.errors import RegimeTraderError

out = Console(width=None if sys.stdout.isatty() else 120)


class BudgetChoice(str, Enum):
    """Named training budgets (`regime_trader.config.BUDGET_STEPS`)."""

    tiny = "tiny"
    small = "small"
    full = "full"


class NetChoice(str, Enum):
    """Q-networks (`AgentConfig.net`)."""

    mlp = "mlp"
    enhanced = "enhanced"
    ensemble = "ensemble"


class BackendChoice(str, Enum):
    """Tuning backends (`regime_trader.tuning.run.BACKENDS`)."""

    grid = "grid"
    optuna = "optuna"
    ray = "ray"


class AgentChoice(str, Enum):
    """Named agent set-ups (`regime_trader.presets.PRESETS`)."""

    original = "original"
    regime_aware = "regime-aware"

    @property
    def preset(self) -> str:
        """The key in `presets.PRESETS`."""
        return self.value.replace("-", "_")


class ScenarioChoice(str, Enum):
    """Synthetic scenario kinds (`regime_trader.scenarios.SCENARIO_KINDS`)."""

    uptrend = "uptrend"
    downtrend = "downtrend"
    plateau = "plateau"
    oscillating = "oscillating"
    switching = "switching"


#: Help panels of the root command, in workflow order (`regime-trader --help`).
PANEL_DATA = "Data"
PANEL_TRAIN = "Train and backtest"
PANEL_EVALUATE = "Evaluate and verify"
PANEL_IMPROVE = "Improve"
PANEL_RELEASE = "Package and release"
PANEL_SERVE = "Serve and monitor"
PANEL_ALL = "All in one"
#: Commands in workflow order; `--help` lists them so (unknown names go last).
COMMAND_ORDER = (
    "data",
    "features",
    "regimes",
    "scenarios",
    "train",
    "calibrate",
    "backtest",
    "evaluate",
    "walkforward",
    "verify",
    "finetune",
    "tune",
    "package",
    "registry",
    "abtest",
    "serve",
    "paper",
    "monitor",
    "demo",
)


def value(choice: Enum | None) -> Any:
    """The plain value of an optional enum option."""
    return None if choice is None else choice.value


def _is_choice(param: Any) -> bool:
    """Whether ``param`` takes one of fixed choices (their list is worth showing)."""
    descriptor = getattr(param, "type_descriptor", None)
    return bool(getattr(descriptor, "is_choice", False)) or hasattr(
        getattr(param, "type", None), "choices"
    )


class _Tidy:
    """Help without type noise: no ``<bool>`` after flags, ``INPUT`` instead of ``{input}``."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # flags take no value
            elif param.param_type_name == "argument" and not _is_choice(param):
                setattr(param, "display_type_rich", lambda ctx: None)  # noqa: B010 (a method)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [_usage_piece(p) for p in pieces]


_BRACED = re.compile(r"\{(?P<name>[^{}]+?)(?:\.\.\.)?\}(?P<dots>\.\.\.)?")


def _usage_piece(piece: str) -> str:
    """``{RUN}...`` -> ``RUN...``, ``{RUN_DIR}`` -> ``RUN_DIR``, ``[[NAME]]`` -> ``[NAME]``."""
    if piece.startswith("[[") and piece.endswith("]]"):
        return piece[1:-1]
    m = _BRACED.fullmatch(piece)
    if m is None:
        return piece
    return m["name"] + ("..." if m["dots"] or piece.endswith("...}") else "")


class Command(_Tidy, TyperCommand):
    """A typer command with the tidy help."""


class Group(_Tidy, TyperGroup):
    """A typer group with the tidy help; subcommands in workflow order (`COMMAND_ORDER`)."""

    def list_commands(self, ctx: Any) -> list[str]:
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: rank.get(n, len(rank)))


def make_app(help_text: str, **kwargs: Any) -> typer.Typer:
    """A `typer.Typer` (group) with the tidy help and no shell-completion options."""
    return typer.Typer(
        help=help_text,
        cls=Group,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        **kwargs,
    )


INPUT_HELP = "A CSV/CSV.gz/Parquet file or a bundled dataset name (`regime-trader data list`)."
InputArg = Annotated[str, typer.Argument(metavar="INPUT", help=INPUT_HELP, show_default=False)]
ConfigOpt = Annotated[
    Path | None, typer.Option(metavar="YAML", help="Config file (see docs/configuration.md).")
]
DataOpt = Annotated[
    str | None,
    typer.Option(metavar="INPUT", help="Dataset name or file (overrides data.source)."),
]
#: Measured once with `train --budget tiny` on spx (README, "Budgets"): 2 shared CPU cores.
BUDGET_HELP = (
    "Env steps: tiny 20k (measured 51 s with --net mlp, 65 s with enhanced, on 2 busy CPU "
    "cores), small 150k (minutes), full 3M"
)
BudgetOpt = Annotated[
    BudgetChoice | None,
    typer.Option(help=f"{BUDGET_HELP}; overrides train.total_steps of --config."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="SECTION.FIELD=VALUE",
        help="Set any config field (docs/configuration.md), e.g. --set env.allow_short=true "
        "--set 'agent.hidden=[64,64]'; values are YAML; repeatable; applied last.",
        show_default=False,
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or progress lines.")]
OutFileOpt = Annotated[
    Path, typer.Option("--out", metavar="FILE", help="Output file (.parquet or .csv).")
]


def device_choice(text: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (else a usage error listing them)."""
    if text in ("cpu", "cuda", "auto") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise typer.BadParameter(f"{text!r} is not one of 'cpu', 'cuda', 'cuda:N', 'auto'")


DeviceOpt = Annotated[
    str,
    typer.Option(
        metavar="<cpu|cuda|cuda:N|auto>",
        parser=device_choice,
        help="Torch device of the model (auto: CUDA when present).",
    ),
]


def force_opt(help_text: str) -> Any:
    """A ``--force`` flag (one style everywhere: no ``--no-force``)."""
    return typer.Option("--force", help=help_text)


def arg(path: object) -> str:
    """``path`` quoted for a shell command line (``runs/my run`` -> ``'runs/my run'``)."""
    return shlex.quote(str(path))


def next_steps(*commands: str) -> None:
    """The next useful commands, one ``next: ...`` line each (never wrapped: copy-paste)."""
    for command in commands:
        out.print(f"next: {command}", markup=False, highlight=False, soft_wrap=True)


def say(text: str) -> None:
    """One plain line on stdout (no markup, no highlighting, never wrapped)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


#: Exceptions the CLI framework raises for bad usage (typer's own; click's for older typer).
_FRAMEWORK: tuple[type[Exception], ...] = tuple(
    e for e in (getattr(typer, "TyperException", None),) if e is not None
)
try:
    import click

    _FRAMEWORK = (*_FRAMEWORK, click.ClickException)
except ImportError:  # pragma: no cover - typer without click
    pass
_ABORT: tuple[type[BaseException], ...] = (KeyboardInterrupt, typer.Abort)


def _framework_error(exc: Exception, err: Console) -> int:
    """Print a usage error on one line; its exit code (2 for usage errors)."""
    msg = " ".join(exc.format_message().split()).replace("Value error, ", "")  # type: ignore[attr-defined]
    if msg:  # empty for "no arguments: help shown"
        err.print(f"error: {msg}", markup=False, soft_wrap=True)
    return int(getattr(exc, "exit_code", 2) or 2)


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run ``app`` with the project's exit codes and one-line errors."""
    err = Console(stderr=True, highlight=False)
    try:
        code = app(args=argv, prog_name="regime-trader", standalone_mode=False)
        return int(code or 0)
    except RegimeTraderError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 2
    except _ABORT:
        err.print("interrupted", markup=False)
        return 130
    except _FRAMEWORK as exc:
        return _framework_error(exc, err)
    except Exception as exc:  # noqa: BLE001 - the contract: one line, exit 1
        if os.environ.get("REGIME_TRADER_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set REGIME_TRADER_DEBUG=1 for a traceback)",
            markup=False,
            soft_wrap=True,
        )
        return 1
