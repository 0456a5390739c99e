"""Commands that train or use agents: `train`, `tune`, `backtest` (`demo`: `cli.demo_cmd`).

`train`, `tune` and `demo` build a config, so `--set section.field=value` applies to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from regime_trader.cli import hints
from regime_trader.cli.app import app
from regime_trader.cli.base import (
    PANEL_IMPROVE,
    PANEL_TRAIN,
    AgentChoice,
    BackendChoice,
    BudgetChoice,
    BudgetOpt,
    Command,
    ConfigOpt,
    DataOpt,
    NetChoice,
    QuietOpt,
    SetOpt,
    arg,
    force_opt,
    next_steps,
    say,
    value,
)
from regime_trader.cli.tables import print_metrics
from regime_trader.errors import ConfigError

if TYPE_CHECKING:
    from regime_trader.config import Config
    from regime_trader.training import TrainResult


def _print_train_result(res: TrainResult) -> None:
    resumed = (
        f" (resumed at {res.resumed_from:,}; {res.env_steps:,} in all)" if res.resumed_from else ""
    )
    say(f"run folder: {res.run_dir}")
    say(
        f"trained {res.steps_this_call:,} env steps{resumed} in {res.seconds:.1f} s "
        f"= {res.steps_per_second:,.0f} steps/s; {res.updates:,} updates in all; "
        f"best validation Sharpe {res.best_val_sharpe:.2f}"
    )


def _train_config(
    config: Path | None,
    agent: AgentChoice | None,
    net: NetChoice | None,
    sets: list[str],
    **named: object,
) -> Config:
    """The config: YAML (or defaults), the named options, the --agent preset, --net, --set."""
    from regime_trader.overrides import apply_sets
    from regime_trader.presets import PRESETS
    from regime_trader.workflows import runs

    cfg = runs.load_config(config, **named)  # type: ignore[arg-type]
    if agent is not None:
        cfg = cfg.override(**PRESETS[agent.preset])
    if net is not None:
        cfg = cfg.override(agent={"net": net.value})
    return apply_sets(cfg, sets)


def _run_config(run_dir: Path) -> Config:
    from regime_trader.config import Config

    return Config.from_yaml(run_dir / "config.yaml")


def _is_regime_aware(cfg: Config) -> bool:
    """Whether a run's config is the regime-aware set-up (`presets.REGIME_AWARE`)."""
    from regime_trader.presets import REGIME_AWARE

    return all(
        getattr(getattr(cfg, section), name) == want
        for section, fields in REGIME_AWARE.items()
        for name, want in fields.items()
    )


@app.command("train", cls=Command, rich_help_panel=PANEL_TRAIN)
def train_cmd(
    out_dir: Annotated[
        Path | None, typer.Option("--out", metavar="RUN_DIR", help="Run folder to create.")
    ] = None,
    agent: Annotated[
        AgentChoice | None,
        typer.Option(
            help="original: MLP, P&L reward, uniform replay. regime-aware: EnhancedDQN, "
            "regime reward, regime replay, curriculum, then calibrated on validation. "
            "--net and --set apply after it."
        ),
    ] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed (overrides train.seed).")] = None,
    budget: BudgetOpt = None,
    net: Annotated[NetChoice | None, typer.Option(help="Q-network (overrides agent.net).")] = None,
    sets: SetOpt = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            metavar="RUN_DIR",
            help="Continue the run in this folder from its last checkpoint (kill-safe).",
        ),
    ] = None,
    force: Annotated[
        bool, force_opt("Replace a run already in --out (its files and reports are deleted).")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a double-DQN agent; keeps the weights with the best validation Sharpe.

    --out refuses a folder that already holds a run unless --force is given; --resume RUN_DIR
    continues a killed run. A regime-aware run is calibrated right after training
    (calibration.json, as `regime-trader calibrate` does).
    """
    from regime_trader.workflows import runs

    if resume is not None:
        given = (out_dir, agent, config, data, seed, budget, net, sets or None)
        if any(v is not None for v in given) or force:
            raise ConfigError(
                "--resume RUN_DIR takes no other options: the run's config.yaml is used "
                f"(drop them, or train anew with --out {arg(resume)} --force)"
            )
        res = runs.resume_run(resume, progress=not quiet)  # checks resume/config.yaml
        calibrate = _is_regime_aware(_run_config(resume))
    else:
        if out_dir is None:
            raise ConfigError(
                "missing --out RUN_DIR: the folder to train into (or --resume RUN_DIR)"
            )
        cfg = _train_config(
            config, agent, net, sets or [], data=data, seed=seed, budget=value(budget)
        )
        calibrate = agent is AgentChoice.regime_aware
        res = runs.train_run(cfg, out_dir, progress=not quiet, force=force)
    _print_train_result(res)
    run_dir = Path(res.run_dir)
    if calibrate:
        cal = runs.calibrate_run(run_dir)
        say(hints.calibration_line(run_dir, cal))
        say(hints.decisions_line(hints.load_policy(run_dir)))
    next_steps(hints.backtest_command(run_dir))


def _quiet_tuner_logs(backend: BackendChoice) -> None:
    """Keep Optuna's INFO lines ("A new study created...", one per trial) off the terminal."""
    if backend is BackendChoice.optuna:
        try:
            import optuna  # type: ignore[import-untyped]  # noqa: F401 - sets its log level
        except ImportError:
            return  # tune_command names the missing extra
        from regime_trader.training.tracking import quiet_library_logs

        quiet_library_logs()


@app.command("tune", cls=Command, rich_help_panel=PANEL_IMPROVE)
def tune_cmd(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Study folder: results.csv, results.md, best_config.yaml, trials/.",
        ),
    ],
    backend: Annotated[
        BackendChoice,
        typer.Option(help="grid (the plan's param_grid), optuna (TPE, pruning, resumable), ray."),
    ],
    trials: Annotated[
        int,
        typer.Option(help="grid: repeats per combination; optuna, ray: number of trials.", min=1),
    ],
    config: ConfigOpt = None,
    data: DataOpt = None,
    budget: BudgetOpt = None,
    sets: SetOpt = None,
    address: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT",
            help="Ray cluster address (--backend ray); default: a local Ray on 2 CPUs.",
        ),
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option(
            metavar="YAML",
            help="Dotted config names to value lists (replaces the plan's grid).",
        ),
    ] = None,
) -> None:
    """Hyper-parameter search; writes results.csv, results.md and best_config.yaml into --out."""
    from regime_trader.tuning.run import summary_lines, tune_command

    _quiet_tuner_logs(backend)
    df = tune_command(
        config,
        data,
        backend.value,
        trials,
        value(budget),
        out_dir,
        address,
        grid,
        sets=sets or (),
    )
    for line in summary_lines(df, backend.value):
        say(line)
    say(f"results: {out_dir / 'results.md'}; best config: {out_dir / 'best_config.yaml'}")
    best = arg(out_dir / "best_config.yaml")
    next_steps(f"regime-trader train --config {best} --out {arg(out_dir / 'best')}")


@app.command(cls=Command, rich_help_panel=PANEL_TRAIN)
def backtest(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A run folder written by `train`.")
    ],
    data: Annotated[str, typer.Option(metavar="INPUT", help="Dataset name or file to trade.")],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for metrics.json, equity.csv, trades.csv, report.html.",
        ),
    ],
    start: Annotated[
        str | None, typer.Option(metavar="DATE", help="First date (inclusive).")
    ] = None,
    end: Annotated[str | None, typer.Option(metavar="DATE", help="Last date (inclusive).")] = None,
    greedy: Annotated[
        bool,
        typer.Option(
            "--greedy",
            help="Greedy (argmax) decisions even when the run has calibration.json.",
        ),
    ] = False,
) -> None:
    """Backtest a trained agent against buy-and-hold and an SMA crossover.

    Decisions use the run's calibration.json when it has one (--greedy: argmax); the output
    says which rule, sizing and period were used.
    """
    from regime_trader.data.split_report import load_split
    from regime_trader.evaluation.evaluate import in_sample_note
    from regime_trader.evaluation.report import period_lines
    from regime_trader.workflows import runs

    ev = runs.backtest_run(run_dir, data, out_dir, start=start, end=end, greedy=greedy)
    policy = hints.load_policy(run_dir, greedy=greedy)
    print_metrics(ev.metrics, title=f"Backtest of {run_dir.name} on {data}")
    for line in period_lines(ev.period):
        say(line)
    tail = " (--greedy for argmax decisions)" if policy.calibrated else ""
    say(hints.decisions_line(policy) + tail)
    note = in_sample_note(load_split(run_dir), ev.period, data)
    if note:
        say(f"Warning: {note}")
    say(f"results in {out_dir}/ (report.html)")
    has_calibration = (run_dir / "calibration.json").is_file()
    if has_calibration:
        next_steps(hints.package_command(run_dir))
    else:
        next_steps(hints.calibrate_command(run_dir), hints.package_command(run_dir))


__all__ = ["BudgetChoice", "backtest", "train_cmd", "tune_cmd"]
