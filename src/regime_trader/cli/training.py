"""Commands that train or use agents: `train`, `tune`, `backtest`, `demo`.

`train`, `tune` and `demo` build a config, so `--set section.field=value` applies to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from regime_trader.cli.app import app
from regime_trader.cli.base import (
    BackendChoice,
    BudgetChoice,
    BudgetOpt,
    Command,
    ConfigOpt,
    DataOpt,
    NetChoice,
    QuietOpt,
    SetOpt,
    out,
    value,
)
from regime_trader.cli.tables import AGENTS, print_metrics, print_per_regime, print_summary
from regime_trader.errors import RegimeTraderError


def _print_train_result(res) -> None:  # noqa: ANN001 - a TrainResult (imported lazily)
    resumed = (
        f" (resumed at {res.resumed_from:,}; {res.env_steps:,} in all)" if res.resumed_from else ""
    )
    out.print(
        f"trained {res.steps_this_call:,} env steps{resumed} in {res.seconds:.1f} s "
        f"= {res.steps_per_second:,.0f} steps/s; {res.updates:,} updates in all; "
        f"best validation Sharpe {res.best_val_sharpe:.2f}"
    )
    out.print(f"run folder: {res.run_dir}")


@app.command("train", cls=Command)
def train_cmd(
    out_dir: Annotated[
        Path | None, typer.Option("--out", metavar="RUN_DIR", help="Run folder to create.")
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
        bool,
        typer.Option(
            "--force", help="Replace a run already in --out (its files and reports are deleted)."
        ),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a double-DQN agent; keeps the weights with the best validation Sharpe.

    --out refuses a folder that already holds a run unless --resume or --force is given.
    """
    from regime_trader import api

    if resume is not None:
        given = (out_dir, config, data, seed, budget, net, sets or None)
        if any(v is not None for v in given) or force:
            raise RegimeTraderError(
                "--resume RUN_DIR takes no other options: the run's config.yaml is used"
            )
        res = api.resume_run(resume, progress=not quiet)
    else:
        if out_dir is None:
            raise RegimeTraderError("missing --out RUN_DIR (or use --resume RUN_DIR)")
        cfg = api.load_config(
            config, data=data, seed=seed, budget=value(budget), net=value(net), sets=sets or ()
        )
        res = api.train_run(cfg, out_dir, progress=not quiet, force=force)
    _print_train_result(res)


def _quiet_tuner_logs(backend: BackendChoice) -> None:
    """Keep Optuna's INFO lines ("A new study created...", one per trial) off the terminal."""
    if backend is BackendChoice.optuna:
        try:
            import optuna  # type: ignore[import-untyped]  # noqa: F401 - sets its log level
        except ImportError:
            return  # tune_command names the missing extra
        from regime_trader.training.tracking import quiet_library_logs

        quiet_library_logs()


@app.command("tune", cls=Command)
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
        out.print(line, markup=False)
    out.print(f"results: {out_dir / 'results.md'}; best config: {out_dir / 'best_config.yaml'}")


@app.command(cls=Command)
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
) -> None:
    """Backtest a trained agent against buy-and-hold and an SMA crossover."""
    from regime_trader import api
    from regime_trader.data.split_report import load_split
    from regime_trader.evaluation.evaluate import in_sample_note
    from regime_trader.evaluation.report import period_lines

    ev = api.backtest_run(run_dir, data, out_dir, start=start, end=end)
    print_metrics(ev.metrics)
    for line in period_lines(ev.period):
        out.print(line, markup=False)
    note = in_sample_note(load_split(run_dir), ev.period, data)
    if note:
        out.print(f"Warning: {note}", markup=False)
    out.print(f"results in {out_dir}/ (report.html)")


@app.command(cls=Command)
def demo(
    budget: Annotated[
        BudgetChoice, typer.Option(help="tiny (<1 min), small (minutes), full.")
    ] = BudgetChoice.small,
    out_root: Annotated[
        Path, typer.Option("--out-root", metavar="DIR", help="Parent folder of run folders.")
    ] = Path("runs"),
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    sets: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The main job: train on S&P 500 1999-2012, validate 2013-2015, test 2016-2018."""
    from regime_trader import api

    res = api.demo_run(
        budget.value, out_root=out_root, seed=seed, progress=not quiet, sets=sets or ()
    )
    _print_demo(res)


def _print_demo(res) -> None:  # noqa: ANN001 - a demo.DemoResult (imported lazily)
    """The test table, the return per regime, the verification table and the evidence."""
    idx = res.test.close.index
    metrics = {"original": res.test.metrics["strategy"]}
    per_regime = {"original": res.test.per_regime["strategy"]}
    if res.regime_aware is not None:
        name = "calibrated" if res.calibration and res.calibration.kept else "regime_aware"
        metrics[name] = res.regime_aware[1].metrics["strategy"]
        per_regime[name] = res.regime_aware[1].per_regime["strategy"]
    for base in ("buy_and_hold", "sma_crossover"):
        metrics[base], per_regime[base] = res.test.metrics[base], res.test.per_regime[base]
    print_metrics(metrics, title=f"Test {idx[0].date()} to {idx[-1].date()} (S&P 500, daily)")
    from regime_trader.evaluation.report import period_lines

    for line in period_lines(res.test.period):
        out.print(line, markup=False)
    print_per_regime(per_regime)
    if res.verification is not None:
        print_summary(
            res.verification,
            "Verification: test years (S&P 500) and synthetic scenarios (true labels)",
            policies=(*AGENTS, "buy_and_hold", "sma_crossover"),
        )
        _print_evidence(res)
    agents = [("original", (res.train, res.test))]
    if res.regime_aware:
        agents.append(("regime_aware", res.regime_aware))
    for label, (t, ev) in agents:
        acc = ev.metrics["strategy"].get("regime_accuracy")
        acc_text = f"; test regime accuracy {acc:.1%}" if acc is not None else ""
        out.print(
            f"{label}: {t.env_steps:,} env steps in {t.seconds:.1f} s "
            f"({t.steps_per_second:,.0f} steps/s); "
            f"best validation Sharpe {t.best_val_sharpe:.2f}{acc_text}"
        )
    out.print(
        f"demo took {res.seconds:.0f} s; run folder: {res.run_dir} "
        "(report.html; regime_aware/report.html; verification/)"
    )


def _print_evidence(res) -> None:  # noqa: ANN001 - a demo.DemoResult
    """Calibrated vs original on the test years: paired block-bootstrap CI of the Sharpe gap."""
    from regime_trader.evaluation.stats import sharpe_difference_ci

    a = res.regime_aware[1].results["strategy"].returns
    b = res.test.results["strategy"].returns
    ci = sharpe_difference_ci(a, b, seed=0)
    out.print(
        f"regime-aware (calibrated) minus original, test Sharpe: {ci.diff:+.2f} "
        f"[{ci.low:+.2f}, {ci.high:+.2f}] {ci.confidence:.0%} CI, p = {ci.p_value:.2f} "
        "(paired stationary bootstrap, one seed, one period: evidence, not proof; "
        "`regime-trader walkforward` gives the multi-series answer)",
        markup=False,
    )
