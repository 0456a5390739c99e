"""The ``next: ...`` lines that end every command, and the words for how a result decided.

Each function returns a ready-to-paste command line built from what a run folder records
(``split.json``: the data source and the test start), so a user never has to look them up.
Heavy modules are imported inside the functions only (the CLI's --help stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from regime_trader.cli.base import arg

if TYPE_CHECKING:
    from regime_trader.policy.calibration import Calibration
    from regime_trader.policy.policy import Policy

PROG = "regime-trader"


def run_split(run_dir: Path) -> dict[str, Any]:
    """The run's ``split.json`` (``{}`` when it has none: a package, an older run)."""
    from regime_trader.data.split_report import load_split

    try:
        return load_split(run_dir) or {}
    except Exception:  # noqa: BLE001 - a hint never fails a command that succeeded
        return {}


def backtest_command(run_dir: Path, *, greedy: bool = False) -> str:
    """``regime-trader backtest RUN --data SRC --start TEST_START --out RUN/test``."""
    split = run_split(run_dir)
    source = split.get("source") or "INPUT"
    start = (split.get("test") or {}).get("start")
    when = f" --start {start}" if start else ""
    flag = " --greedy" if greedy else ""
    return (
        f"{PROG} backtest {arg(run_dir)} --data {arg(source)}{when} "
        f"--out {arg(run_dir / 'test')}{flag}"
    )


def calibrate_command(run_dir: Path) -> str:
    """``regime-trader calibrate RUN``."""
    return f"{PROG} calibrate {arg(run_dir)}"


def package_command(run_dir: Path) -> str:
    """``regime-trader package RUN --out pkgs/NAME``."""
    return f"{PROG} package {arg(run_dir)} --out {arg(Path('pkgs') / run_dir.name)}"


def verify_command(results_dir: Path) -> str:
    """``regime-trader verify DIR --out DIR/report``."""
    return f"{PROG} verify {arg(results_dir)} --out {arg(results_dir / 'report')}"


def load_policy(folder: Path, greedy: bool = False) -> Policy:
    """The `Policy` of a run or package folder on the CPU (``greedy``: its argmax twin)."""
    from regime_trader.policy.policy import load_folder

    policy = load_folder(folder, "cpu")
    return policy.greedy() if greedy else policy


def decisions_line(policy: Policy) -> str:
    """``Decisions: calibrated (calibration.json); sizing full`` (`runs.decision_label`)."""
    from regime_trader.workflows.runs import decision_label

    return f"Decisions: {decision_label(policy)}"


def calibration_line(run_dir: Path, cal: Calibration) -> str:
    """What `calibrate_run` found, in one line."""
    verdict = "kept" if cal.kept else "not kept (greedy decisions stay)"
    return (
        f"calibration: validation Sharpe {cal.val_sharpe_greedy:.2f} greedy -> "
        f"{cal.val_sharpe:.2f} calibrated over {cal.trials} rules ({cal.period['start'][:10]} "
        f"to {cal.period['end'][:10]}): {verdict}; {run_dir / 'calibration.json'}"
    )
