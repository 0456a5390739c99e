"""Every command's --help against a snapshot, plus the rules the help must keep.

Help is rendered at ``COLUMNS=100`` with trailing spaces stripped; the snapshots live in
``tests/integration/snapshots/help/``. After an intended change of a help text, rewrite them
with ``UPDATE_SNAPSHOTS=1 pytest tests/integration/test_cli_help.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from _cli import check_snapshot

from regime_trader.cli import app, run
from regime_trader.cli.base import COMMAND_ORDER

SNAPSHOTS = Path(__file__).parent / "snapshots" / "help"
README = Path(__file__).parents[2] / "README.md"


def _commands(group: typer.core.TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name in group.list_commands(None):  # type: ignore[arg-type]
        cmd = group.commands[name]
        if isinstance(cmd, typer.core.TyperGroup):
            found += _commands(cmd, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


ROOT = typer.main.get_command(app)
COMMANDS = _commands(ROOT)  # type: ignore[arg-type]


def _name(args: tuple[str, ...]) -> str:
    return "_".join(args) or "root"


def render_help(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """``regime-trader ARGS --help`` at 100 columns, trailing spaces stripped."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert run([*args, "--help"]) == 0
    text = capsys.readouterr().out
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"


@pytest.mark.parametrize("args", COMMANDS, ids=_name)
def test_help_snapshot(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_snapshot(SNAPSHOTS / f"{_name(args)}.txt", render_help(args, capsys, monkeypatch))


def test_no_stale_snapshots() -> None:
    names = {f"{_name(a)}.txt" for a in COMMANDS}
    stale = sorted(p.name for p in SNAPSHOTS.glob("*.txt") if p.name not in names)
    assert not stale, f"snapshots of commands that no longer exist: {stale}"


@pytest.mark.parametrize("args", COMMANDS, ids=_name)
def test_usage_line_and_flags_are_tidy(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = render_help(args, capsys, monkeypatch)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    for odd in ("[[", "]]", "{", "}", "......"):
        assert odd not in usage, f"{odd!r} in {usage!r}"
    assert "--no-force" not in text  # one flag style: --force
    assert "<str>" not in text or args == ("serve",), "a str option without a metavar"


def test_root_lists_commands_in_workflow_order_and_groups(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = render_help((), capsys, monkeypatch)
    rows = [m.group(1) for m in re.finditer(r"^│ (\w+) ", text, flags=re.M)]
    commands = [r for r in rows if r in COMMAND_ORDER]
    assert commands == list(COMMAND_ORDER)
    panels = re.findall(r"╭─ ([^─]+?) ─", text)
    assert panels == [
        "Options",
        "Data",
        "Train and backtest",
        "Evaluate and verify",
        "Improve",
        "Package and release",
        "Serve and monitor",
        "All in one",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("train",), "<original|regime-aware>"),
        (("train",), "<tiny|small|full>"),
        (("evaluate",), "uptrend, downtrend, plateau, oscillating, switching"),
        (("walkforward",), "<local|ray>"),
        (("verify",), "<all|real|synthetic|stress>"),
        (("verify",), "buy_and_hold, sma_crossover, random, oracle"),
        (("serve",), "<cpu|cuda|cuda:N|auto>"),
        (("abtest",), "<rolling|random>"),
        (("registry", "list"), "<auto|mlflow|local>"),
        (("backtest",), "--greedy"),
        (("paper",), "Replay the bars of --data"),
        (("train",), "measured 51 s with --net mlp, 65 s with enhanced"),
    ],
)
def test_help_shows_the_choices(
    args: tuple[str, ...],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flat = " ".join(render_help(args, capsys, monkeypatch).replace("│", " ").split())
    assert expected in flat


def test_serve_device_default_matches_readme(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    flat = " ".join(render_help(("serve",), capsys, monkeypatch).replace("│", " ").split())
    default = re.search(r"--device <cpu\|cuda\|cuda:N\|auto> .*?\[default: (\w+)\]", flat)
    assert default is not None
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert f"`serve` defaults to `--device {default.group(1)}`" in readme


HEAVY = ("torch", "pandas", "mlflow", "fastapi")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["registry", "list", "--help"],
        ["train", "--no-such-option"],
        ["serve", "PKG", "--device", "gpu"],
        ["backtest"],
    ],
    ids=" ".join,
)
def test_help_and_usage_errors_import_no_heavy_library(argv: list[str]) -> None:
    code = (
        "import json, sys\n"
        "from regime_trader.cli import run\n"
        f"code = run({argv!r})\n"
        f"print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    env = {**os.environ, "COLUMNS": "100"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    exit_code, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert exit_code in (0, 2), proc.stderr
    assert heavy == [], f"{argv} imported {heavy}"


def test_new_choices_are_the_library_s() -> None:
    from regime_trader.cli.base import AgentChoice
    from regime_trader.cli.evaluation_cmds import ResultKind, WalkBackend
    from regime_trader.presets import PRESETS

    assert {c.preset for c in AgentChoice} == set(PRESETS)
    assert [c.value for c in WalkBackend] == ["local", "ray"]  # workflows.walkforward.run_jobs
    assert [c.value for c in ResultKind] == ["all", "real", "synthetic", "stress"]
