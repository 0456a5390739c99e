"""Commands: calibrate, evaluate, walkforward, verify (phase 4: the proof)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from regime_trader.cli.app import app
from regime_trader.cli.base import (
    BudgetOpt,
    Command,
    ConfigOpt,
    SetOpt,
    out,
    value,
)
from regime_trader.cli.tables import print_summary

OutDirOpt = Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")]
DataList = Annotated[
    list[str] | None,
    typer.Option("--data", metavar="INPUT", help="Dataset name or file; repeatable."),
]


@app.command(cls=Command)
def calibrate(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder.")],
    min_gain: Annotated[
        float, typer.Option(help="Validation Sharpe a rule must add to be kept.")
    ] = 0.05,
) -> None:
    """Fit the decision rule (uptrend boost, thresholds, sizing) on the run's validation bars."""
    from regime_trader import api

    cal = api.calibrate_run(run_dir, min_gain=min_gain)
    verdict = "kept" if cal.kept else "not kept (greedy stays)"
    out.print(
        f"validation Sharpe {cal.val_sharpe_greedy:.2f} greedy -> {cal.val_sharpe:.2f} "
        f"calibrated over {cal.trials} rules ({cal.period['start'][:10]} to "
        f"{cal.period['end'][:10]}): {verdict}; {run_dir}/calibration.json",
        markup=False,
    )


@app.command(cls=Command)
def evaluate(
    runs: Annotated[
        list[str], typer.Argument(metavar="RUN...", help="Run folders (NAME=PATH names one).")
    ],
    out_dir: OutDirOpt,
    data: DataList = None,
    scenarios: Annotated[
        str, typer.Option(help="Comma-separated scenario kinds, or 'all' or 'none'.")
    ] = "all",
    seeds: Annotated[int, typer.Option(help="Scenario seeds per kind.")] = 3,
    bars: Annotated[int, typer.Option(help="Bars per synthetic scenario.")] = 1500,
) -> None:
    """Runs and baselines (buy-and-hold, SMA, random, oracle) over scenarios and test data."""
    from regime_trader.evaluation.suite import evaluate_suite

    rows = evaluate_suite(
        runs, out_dir, data=data or [], scenarios=scenarios, seeds=range(seeds), n_bars=bars
    )
    print_summary(rows, "Evaluation (means over seeds)")
    out.print(f"results in {out_dir}/ (results.parquet, returns.parquet)", markup=False)


@app.command(cls=Command)
def walkforward(
    out_dir: OutDirOpt,
    data: DataList = None,
    config: ConfigOpt = None,
    budget: BudgetOpt = None,
    sets: SetOpt = None,
    seeds: Annotated[int, typer.Option(help="Training seeds per window.")] = 3,
    windows: Annotated[int, typer.Option(help="Rolling windows per series.")] = 2,
    train_bars: Annotated[int, typer.Option(help="Training bars per window.")] = 1500,
    val_bars: Annotated[int, typer.Option(help="Validation bars per window.")] = 250,
    test_bars: Annotated[int, typer.Option(help="Test bars per window (the roll step).")] = 250,
    backend: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    workers: Annotated[int, typer.Option(help="Local processes at once.")] = 1,
) -> None:
    """Rolling-origin walk-forward: original vs regime-aware vs calibrated, every window x seed."""
    from regime_trader import api
    from regime_trader.errors import ConfigError
    from regime_trader.evaluation.walkforward import walkforward as run

    if not data:
        raise ConfigError("walkforward: give at least one --data INPUT")
    cfg = api.load_config(config, budget=value(budget), sets=sets or ())
    rows = run(
        data,
        out_dir,
        cfg,
        seeds=range(seeds),
        n_windows=windows,
        train_bars=train_bars,
        val_bars=val_bars,
        test_bars=test_bars,
        backend=backend,
        workers=workers,
        address=address,
    )
    print_summary(rows, "Walk-forward test windows (means over windows and seeds)")
    out.print(f"results in {out_dir}/ (results.parquet, returns.parquet)", markup=False)


@app.command(cls=Command)
def finetune(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder.")],
    steps: Annotated[int, typer.Option(help="Env steps of continued training.")] = 20_000,
    uptrend_quota: Annotated[
        float, typer.Option(help="Share of each replayed batch from uptrend bars.")
    ] = 0.5,
    lr_scale: Annotated[float, typer.Option(help="Learning rate times this.")] = 0.3,
    out_dir: Annotated[
        Path | None, typer.Option("--out", metavar="DIR", help="Default: RUN_DIR/finetuned.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an earlier fine-tune.")] = False,
) -> None:
    """Uptrend fine-tuning: continue training on uptrend-weighted replay; kept only if the
    validation Sharpe improves (docs/finetune.md)."""
    from regime_trader.training.finetune import finetune_uptrend

    res = finetune_uptrend(
        run_dir, out_dir, steps=steps, uptrend_quota=uptrend_quota, lr_scale=lr_scale, force=force
    )
    verdict = "kept" if res.kept else "not kept (the original weights stay)"
    out.print(
        f"validation Sharpe {res.val_sharpe_before:.2f} -> {res.val_sharpe_after:.2f} after "
        f"{res.steps:,} steps in {res.seconds:.0f} s: {verdict}; {res.run_dir}",
        markup=False,
    )


@app.command(cls=Command)
def verify(
    results_dir: Annotated[
        Path, typer.Argument(metavar="RESULTS_DIR", help="An `evaluate` or `walkforward` --out.")
    ],
    out_dir: OutDirOpt,
    reference: Annotated[str, typer.Option(help="The policy to beat.")] = "original",
    candidate: Annotated[
        list[str] | None, typer.Option(help="Policies to test (default: every agent); repeatable.")
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(help="Configurations tried, for the deflated Sharpe (default: trials.json)."),
    ] = None,
    kind: Annotated[
        str, typer.Option(help="Rows to compare: all, real, synthetic or stress.")
    ] = "all",
) -> None:
    """The verification report: candidates vs the reference over every scenario and regime,
    with CIs and p-values (verification.html, .md, .json)."""
    from regime_trader.evaluation.calibrate import read_trials
    from regime_trader.evaluation.results import read_results
    from regime_trader.evaluation.verify import write_verification

    tables = _short_names(*read_results(results_dir), kind)
    n_trials, sharpes = read_trials(results_dir)
    paths = write_verification(
        tables,
        out_dir,
        reference=reference,
        candidates=candidate or None,
        n_trials=trials or n_trials,
        trial_sharpes=sharpes,
    )
    out.print(
        f"verification report: {paths[0]} (Markdown {paths[1].name}, JSON {paths[2].name})",
        markup=False,
    )


def _short_names(rows, returns, kind: str):  # noqa: ANN001, ANN202 - tidy frames
    """Rows of one ``kind`` (or all), series shown by file stem (``AAPL_1d_yahoo_2004-2018``)."""
    from regime_trader.errors import ConfigError

    kinds = ("all", "real", "synthetic", "stress")
    if kind not in kinds:
        raise ConfigError(f"--kind must be one of {', '.join(kinds)}, got {kind!r}")
    if kind != "all":
        rows = rows[rows["kind"] == kind]
        keys = rows[["series", "window", "seed"]].drop_duplicates()
        returns = returns.merge(keys, on=["series", "window", "seed"])
        if rows.empty:
            raise ConfigError(f"--kind {kind}: no such rows in these results")
    names = {s: Path(str(s)).name.split(".")[0] for s in rows["series"].unique()}
    if len(set(names.values())) < len(names):
        names = {s: str(s) for s in names}  # two files share a stem: keep the paths
    return rows.assign(series=rows["series"].map(names)), returns.assign(
        series=returns["series"].map(names)
    )
