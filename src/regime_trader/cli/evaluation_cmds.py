"""Commands: calibrate, evaluate, walkforward, verify, finetune (phase 4: the proof)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from regime_trader.cli import hints
from regime_trader.cli.app import app
from regime_trader.cli.base import (
    PANEL_EVALUATE,
    PANEL_IMPROVE,
    PANEL_TRAIN,
    BudgetOpt,
    Command,
    ConfigOpt,
    ScenarioChoice,
    SetOpt,
    arg,
    force_opt,
    next_steps,
    say,
    value,
)
from regime_trader.cli.tables import print_summary
from regime_trader.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

OutDirOpt = Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")]
DataList = Annotated[
    list[str] | None,
    typer.Option("--data", metavar="INPUT", help="Dataset name or file; repeatable."),
]
POLICY_HELP = (
    "original, regime_aware, calibrated (walkforward and demo results), an evaluate NAME or "
    "NAME+cal, or a baseline: buy_and_hold, sma_crossover, random, oracle"
)


class WalkBackend(str, Enum):
    """Where walk-forward jobs run (`workflows.walkforward.run_jobs`)."""

    local = "local"
    ray = "ray"


class ResultKind(str, Enum):
    """Rows `verify` compares (the ``kind`` column of the tidy results)."""

    all = "all"
    real = "real"
    synthetic = "synthetic"
    stress = "stress"


@app.command(cls=Command, rich_help_panel=PANEL_TRAIN)
def calibrate(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder.")],
    min_gain: Annotated[
        float, typer.Option(help="Validation Sharpe a rule must add to be kept.")
    ] = 0.05,
) -> None:
    """Fit the decision rule (uptrend boost, thresholds, sizing) on the run's validation bars."""
    from regime_trader.workflows import runs

    cal = runs.calibrate_run(run_dir, min_gain=min_gain)
    say(hints.calibration_line(run_dir, cal))
    say(hints.decisions_line(hints.load_policy(run_dir)))
    next_steps(hints.backtest_command(run_dir), hints.package_command(run_dir))


@app.command(cls=Command, rich_help_panel=PANEL_EVALUATE)
def evaluate(
    runs: Annotated[
        list[str], typer.Argument(metavar="RUN", help="Run folders (NAME=PATH names one).")
    ],
    out_dir: OutDirOpt,
    data: DataList = None,
    scenarios: Annotated[
        str,
        typer.Option(
            metavar="all|none|KIND[,KIND...]",
            help="Synthetic scenario kinds, comma-separated: "
            + ", ".join(c.value for c in ScenarioChoice),
        ),
    ] = "all",
    seeds: Annotated[int, typer.Option(help="Scenario seeds per kind.", min=1)] = 3,
    bars: Annotated[int, typer.Option(help="Bars per synthetic scenario.")] = 1500,
) -> None:
    """Runs and baselines (buy-and-hold, SMA, random, oracle) over scenarios and test data.

    A run with calibration.json appears twice: greedy (NAME) and calibrated (NAME+cal).
    """
    from regime_trader.workflows.suite import evaluate_suite

    rows = evaluate_suite(
        runs, out_dir, data=data or [], scenarios=scenarios, seeds=range(seeds), n_bars=bars
    )
    print_summary(rows, "Evaluation (means over seeds)")
    for spec in runs:
        say(_decisions_of(spec))
    say(
        f"Periods: each scenario {bars:,} bars x {seeds} seed(s) (true regimes); real: the "
        "test period of each --data series by the run's split rules; stress: its worst "
        "buy-and-hold drawdown"
    )
    say(f"results in {out_dir}/ (results.parquet, returns.parquet)")
    names = [_run_name(spec) for spec in runs]
    reference = "" if "original" in names else f" --reference {arg(names[0])}"
    next_steps(hints.verify_command(out_dir) + reference)


def _run_name(spec: str) -> str:
    """The name a run gets in `evaluate` (``NAME=PATH``, else the folder's name)."""
    name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
    return name or Path(path).name


def _decisions_of(spec: str) -> str:
    """``NAME: greedy; sizing full`` (+ ``NAME+cal: calibrated ...`` when calibrated)."""
    from regime_trader.workflows.runs import decision_label

    path = spec.rpartition("=")[2] if "=" in spec else spec
    policy = hints.load_policy(Path(path))
    name = _run_name(spec)
    text = f"Decisions: {name}: {decision_label(policy.greedy())}"
    if policy.calibration is not None:
        text += f"; {name}+cal: {decision_label(policy)}"
    return text


@app.command(cls=Command, rich_help_panel=PANEL_EVALUATE)
def walkforward(
    out_dir: OutDirOpt,
    data: DataList = None,
    config: ConfigOpt = None,
    budget: BudgetOpt = None,
    sets: SetOpt = None,
    seeds: Annotated[int, typer.Option(help="Training seeds per window.", min=1)] = 3,
    windows: Annotated[int, typer.Option(help="Rolling windows per series.", min=1)] = 2,
    train_bars: Annotated[int, typer.Option(help="Training bars per window.")] = 1500,
    val_bars: Annotated[int, typer.Option(help="Validation bars per window.")] = 250,
    test_bars: Annotated[int, typer.Option(help="Test bars per window (the roll step).")] = 250,
    backend: Annotated[
        WalkBackend, typer.Option(help="local (processes) or ray (tasks; --address a cluster).")
    ] = WalkBackend.local,
    address: Annotated[
        str | None, typer.Option(metavar="HOST:PORT", help="Ray cluster address (--backend ray).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Local processes at once.", min=1)] = 1,
) -> None:
    """Rolling-origin walk-forward: original vs regime-aware vs calibrated, every window x seed."""
    from regime_trader.workflows import runs
    from regime_trader.workflows.walkforward import walkforward as run

    if not data:
        raise ConfigError("walkforward: give at least one --data INPUT (e.g. --data spx)")
    cfg = runs.load_config(config, budget=value(budget), sets=sets or ())
    rows = run(
        data,
        out_dir,
        cfg,
        seeds=range(seeds),
        n_windows=windows,
        train_bars=train_bars,
        val_bars=val_bars,
        test_bars=test_bars,
        backend=backend.value,
        workers=workers,
        address=address,
        progress=say,
    )
    print_summary(rows, "Walk-forward test windows (means over windows and seeds)")
    say(
        "Decisions: original and regime_aware greedy; calibrated: regime_aware with the rule "
        f"fitted on each window's validation bars. Periods: {windows} window(s) per series of "
        f"{train_bars:,} train / {val_bars:,} validation / {test_bars:,} test bars"
    )
    say(f"results in {out_dir}/ (results.parquet, returns.parquet)")
    next_steps(hints.verify_command(out_dir))


@app.command(cls=Command, rich_help_panel=PANEL_IMPROVE)
def finetune(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder.")],
    steps: Annotated[int, typer.Option(help="Env steps of continued training.", min=1)] = 20_000,
    uptrend_quota: Annotated[
        float, typer.Option(help="Share of each replayed batch from uptrend bars.")
    ] = 0.5,
    lr_scale: Annotated[float, typer.Option(help="Learning rate times this.")] = 0.3,
    out_dir: Annotated[
        Path | None, typer.Option("--out", metavar="DIR", help="Default: RUN_DIR/finetuned.")
    ] = None,
    force: Annotated[bool, force_opt("Replace an earlier fine-tune in --out.")] = False,
) -> None:
    """Uptrend fine-tuning, kept only if the validation Sharpe improves (docs/finetune.md).

    Training continues on uptrend-weighted replay from the run's best weights. When RUN_DIR
    has calibration.json, the fine-tuned folder is calibrated again on the same validation
    bars (the old rule was fitted to the old weights).
    """
    from regime_trader.training.finetune import DEFAULT_SUBDIR, finetune_uptrend
    from regime_trader.training.run_folder import holds_run
    from regime_trader.workflows import runs

    target = out_dir if out_dir is not None else run_dir / DEFAULT_SUBDIR
    held = holds_run(target) if target.is_dir() else []
    if held and not force:
        raise ConfigError(
            f"'{target}' already holds a fine-tune ({', '.join(held)}): add --force to "
            "replace it, or give --out ANOTHER_DIR"
        )
    res = finetune_uptrend(
        run_dir, out_dir, steps=steps, uptrend_quota=uptrend_quota, lr_scale=lr_scale, force=force
    )
    verdict = "kept" if res.kept else "not kept (the original weights stay)"
    say(
        f"validation Sharpe {res.val_sharpe_before:.2f} -> {res.val_sharpe_after:.2f} after "
        f"{res.steps:,} steps in {res.seconds:.0f} s: {verdict}; {res.run_dir}"
    )
    ft_dir = Path(res.run_dir)
    if (run_dir / "calibration.json").is_file():
        say(f"{run_dir} was calibrated: calibrating {ft_dir} on its validation bars")
        say(hints.calibration_line(ft_dir, runs.calibrate_run(ft_dir)))
        say(hints.decisions_line(hints.load_policy(ft_dir)))
        next_steps(hints.backtest_command(ft_dir))
    else:
        say(f"{hints.decisions_line(hints.load_policy(ft_dir))} (uncalibrated, as {run_dir})")
        next_steps(hints.backtest_command(ft_dir), hints.calibrate_command(ft_dir))


@app.command(cls=Command, rich_help_panel=PANEL_EVALUATE)
def verify(
    results_dir: Annotated[
        Path, typer.Argument(metavar="RESULTS_DIR", help="An `evaluate` or `walkforward` --out.")
    ],
    out_dir: OutDirOpt,
    reference: Annotated[
        str, typer.Option(metavar="POLICY", help=f"The policy to beat: {POLICY_HELP}.")
    ] = "original",
    candidate: Annotated[
        list[str] | None,
        typer.Option(
            metavar="POLICY",
            help="A policy to test (default: every agent but --reference); repeatable.",
        ),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            help="Configurations tried, for the deflated Sharpe (default: trials.json).", min=1
        ),
    ] = None,
    kind: Annotated[
        ResultKind, typer.Option(help="Rows to compare (the results' kind column).")
    ] = ResultKind.all,
) -> None:
    """The verification report: candidates vs the reference, with CIs and p-values.

    Every scenario and regime of RESULTS_DIR; writes verification.html, .md and .json.
    """
    from regime_trader.evaluation.results import read_results
    from regime_trader.evaluation.verify import write_verification
    from regime_trader.policy.calibration import read_trials

    tables = _short_names(*read_results(results_dir), kind.value)
    _check_policies(tables[0], results_dir, reference, candidate or [])
    n_trials, sharpes = read_trials(results_dir)
    paths = write_verification(
        tables,
        out_dir,
        reference=reference,
        candidates=candidate or None,
        n_trials=trials or n_trials,
        trial_sharpes=sharpes,
    )
    say(f"verification report: {paths[0]} (Markdown {paths[1].name}, JSON {paths[2].name})")
    next_steps("regime-trader package RUN_DIR --out pkgs/NAME  # RUN_DIR: the run it favours")


def _check_policies(
    rows: pd.DataFrame, results_dir: Path, reference: str, candidates: list[str]
) -> None:
    """--reference and every --candidate name a policy of the results (else the choices)."""
    found = list(dict.fromkeys(rows["policy"].astype(str)))
    for option, name in [("--reference", reference), *(("--candidate", c) for c in candidates)]:
        if name not in found:
            raise ConfigError(
                f"{option} {name!r}: no such policy in {results_dir / 'results.parquet'}; "
                f"choose from {', '.join(found)}"
            )


def _short_names(
    rows: pd.DataFrame, returns: pd.DataFrame, kind: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of one ``kind`` (or all), series shown by file stem (``AAPL_1d_yahoo_2004-2018``)."""
    if kind != "all":
        present = ", ".join(sorted(map(str, rows["kind"].unique())))
        rows = rows[rows["kind"] == kind]
        keys = rows[["series", "window", "seed"]].drop_duplicates()
        returns = returns.merge(keys, on=["series", "window", "seed"])
        if rows.empty:
            raise ConfigError(
                f"--kind {kind}: no such rows in these results; kinds present: {present} "
                "(or --kind all)"
            )
    names = {s: Path(str(s)).name.split(".")[0] for s in rows["series"].unique()}
    if len(set(names.values())) < len(names):
        names = {s: str(s) for s in names}  # two files share a stem: keep the paths
    return rows.assign(series=rows["series"].map(names)), returns.assign(
        series=returns["series"].map(names)
    )


__all__ = ["calibrate", "evaluate", "finetune", "verify", "walkforward"]
