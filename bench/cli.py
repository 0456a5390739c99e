"""Start-up time of the `regime-trader` command, run as a user runs it (a subprocess).

Each case runs ``--runs`` times (after one untimed warm-up run that fills the OS file cache);
the table gives the median and the fastest wall-clock time, beside ``python -c pass`` measured
in the same session as the floor (the interpreter's own start). A second pass runs each case
in-process once and lists which heavy libraries it imported (torch, pandas, mlflow, fastapi
must stay out of --help and usage errors). Goals (issue 19): --help and usage errors under
1 s, registry commands under 3 s.

    python bench/cli.py [--runs 10] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)

MARK = "<!-- bench/cli.py -->"
HEAVY = ("torch", "pandas", "mlflow", "fastapi")
Row = tuple[str, list[float], float | None, list[str] | None]  # label, times, goal, imports
CLI = Path(sys.executable).parent / "regime-trader"


@dataclass(frozen=True)
class Case:
    """One command line: its label, arguments, goal in seconds (None: the floor) and exit code."""

    label: str
    args: tuple[str, ...]
    goal: float | None
    code: int = 0


def _cases(root: Path) -> list[Case]:
    local, mlflow = str(root / "reg_local"), str(root / "reg_mlflow")
    return [
        Case("`regime-trader --help`", ("--help",), 1.0),
        Case("`regime-trader --version`", ("--version",), 1.0),
        Case("`regime-trader train --help`", ("train", "--help"), 1.0),
        Case("`regime-trader serve --help`", ("serve", "--help"), 1.0),
        Case("usage error: `train --no-such-option`", ("train", "--no-such-option"), 1.0, 2),
        Case("usage error: `serve PKG --device gpu`", ("serve", "PKG", "--device", "gpu"), 1.0, 2),
        Case("usage error: `backtest` (no RUN_DIR)", ("backtest",), 1.0, 2),
        Case(
            "`registry list --backend local`",
            ("registry", "list", "--registry", local, "--backend", "local"),
            3.0,
        ),  # fmt: skip
        Case(
            "`registry list` (MLflow, existing store)",
            ("registry", "list", "--registry", mlflow, "--backend", "mlflow"),
            3.0,
        ),  # fmt: skip
    ]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REGIME_TRADER_DEBUG"}
    return {**env, "COLUMNS": "100", "MLFLOW_DISABLE_TELEMETRY": "true"}


def _time(argv: list[str], runs: int, code: int) -> list[float]:
    """Wall seconds of ``runs`` runs of ``argv`` (one untimed warm-up); checks the exit code."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False)
        took = time.perf_counter() - start
        if proc.returncode != code:
            raise SystemExit(f"{argv}: exit {proc.returncode}, expected {code}: {proc.stderr}")
        if i:
            times.append(took)
    return times


def _imported(args: tuple[str, ...]) -> list[str]:
    """The heavy libraries a command imports (run in-process in a fresh interpreter)."""
    code = (
        "import json, sys\n"
        "from regime_trader.cli import run\n"
        f"run({list(args)!r})\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), check=False)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per case")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = _cases(root)
        subprocess.run([str(CLI), *cases[-1].args], capture_output=True, env=_env(), check=True)
        floor = _time([sys.executable, "-c", "pass"], args.runs, 0)
        rows.append(("`python -c pass` (floor)", floor, None, None))
        for lib, stmt in (("torch", "import torch"), ("MLflow", "from mlflow import MlflowClient")):
            took = _time([sys.executable, "-c", stmt], args.runs, 0)
            rows.append((f"`python -c '{stmt}'` (reference: {lib} alone)", took, None, None))
        for case in cases:
            times = _time([str(CLI), *case.args], args.runs, case.code)
            rows.append((case.label, times, case.goal, _imported(case.args)))
            print(f"{case.label}: median {statistics.median(times):.3f} s", flush=True)
    load_after = os.getloadavg()
    table = _table(rows)
    print(table)
    if args.write:
        replace_section(MARK, _section(table, args.runs, load_before, load_after))


def _table(rows: list[Row]) -> str:
    lines = [
        "| command | median s | fastest s | goal | met | heavy imports |",
        "|---|---:|---:|---:|---|---|",
    ]
    for label, times, goal, heavy in rows:
        met = "" if goal is None else ("yes" if statistics.median(times) < goal else "no")
        lines.append(
            f"| {label} | {statistics.median(times):.3f} | {min(times):.3f} | "
            f"{'' if goal is None else f'< {goal:g} s'} | {met} | "
            f"{'' if heavy is None else ', '.join(heavy) or 'none'} |"
        )
    return "\n".join(lines)


def _section(table: str, runs: int, before: tuple[float, ...], after: tuple[float, ...]) -> str:
    cpu = _cpu_name()
    return f"""{MARK}
## CLI start-up: `--help`, usage errors, registry commands

The `regime-trader` console script run as a subprocess, {runs} timed runs per command after
one untimed warm-up; median and fastest wall-clock time, beside `python -c pass` (the
interpreter's start) measured in the same session. "heavy imports" lists which of
{", ".join(HEAVY)} the command imported (one in-process run). CPU {cpu}, {os.cpu_count()} cores
shared with other work (load average {before[0]:.1f} at the start, {after[0]:.1f} at the end);
Python {platform.python_version()}; {time.strftime("%Y-%m-%d")}.

Command: `python bench/cli.py --runs {runs} --write`

{table}

The commands import their libraries inside the command functions, so `--help` and usage errors
load only typer, rich and pydantic (typer's own dependency). Registry commands open the
registry, whose module (`regime_trader.registry.base`) imports `regime_trader.package` and
with it torch (and `registry.mlflow_store` imports `regime_trader.training`, torch again),
and the MLflow store imports MLflow: the two reference rows give what those imports cost
alone on this machine. The MLflow registry misses its 3 s goal on this shared machine; it
would need those registry modules to import the package and training code lazily (outside
the CLI).
{MARK}
"""


def _cpu_name() -> str:
    """``AMD EPYC ...`` from /proc/cpuinfo where there is one, else the machine type."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
