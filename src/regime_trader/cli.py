"""`regime-trader` command line: thin `typer` commands over `regime_trader.api`.

Exit codes: 0 success, 2 bad input or usage (one line on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regime_trader.errors import RegimeTraderError

# Typer >= 0.20 vendors click; older releases use click itself. Catch whichever is in use.
_USAGE: tuple[type[Exception], ...] = ()
_ABORT: tuple[type[BaseException], ...] = (KeyboardInterrupt,)
try:
    from typer._click.exceptions import UsageError as _TyperUsageError
    from typer.exceptions import Abort as _TyperAbort

    _USAGE, _ABORT = (*_USAGE, _TyperUsageError), (*_ABORT, _TyperAbort)
except ImportError:  # pragma: no cover - depends on the typer release
    pass
try:
    import click

    _USAGE, _ABORT = (*_USAGE, click.exceptions.UsageError), (*_ABORT, click.exceptions.Abort)
except ImportError:  # pragma: no cover
    pass

app = typer.Typer(
    name="regime-trader",
    help="Regime-aware deep RL trading: data, features, regimes, training, backtests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Bundled datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
out = Console(width=None if sys.stdout.isatty() else 120)

BudgetOpt = Annotated[
    str, typer.Option(help="Training budget: tiny (<1 min), small (minutes), full.")
]


ConfigOpt = Annotated[Path | None, typer.Option(help="YAML config (see docs/configuration.md).")]
DataOpt = Annotated[str | None, typer.Option(help="Dataset name or file (overrides the config).")]
OverrideBudgetOpt = Annotated[
    str | None,
    typer.Option(
        help="tiny (<1 min), small (minutes), full; overrides the config's train.total_steps."
    ),
]
QuietOpt = Annotated[bool, typer.Option(help="No progress bar.")]


def _budget(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in ("tiny", "small", "full"):
        raise RegimeTraderError(f"--budget must be tiny, small or full, got '{value}'")
    return value


@data_app.command("list")
def data_list() -> None:
    """List the bundled datasets (usable as INPUT everywhere)."""
    from regime_trader.data import list_datasets

    table = Table("name", "bars", "from", "to", "rows", "description")
    for d in list_datasets():
        table.add_row(d.name, d.bar, str(d.start), str(d.end), f"{d.rows:,}", d.description)
    out.print(table)


@app.command()
def features(
    input: Annotated[
        str, typer.Argument(help="A CSV/CSV.gz/Parquet file or a bundled dataset name.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    timeframes: Annotated[
        str | None,
        typer.Option(
            help="Coarser timeframes joined causally, e.g. 5min,60min (intraday) or W,ME (daily)."
        ),
    ] = None,
) -> None:
    """Compute raw (unscaled) features plus a `regime` column, indexed by timestamp."""
    from regime_trader.data import save_frame
    from regime_trader.frames import feature_frame

    frame = feature_frame(input, timeframes)
    save_frame(frame, out_path)
    out.print(f"wrote {len(frame):,} rows x {frame.shape[1]} columns to {out_path}")


@app.command()
def regimes(
    input: Annotated[
        str, typer.Argument(help="A CSV/CSV.gz/Parquet file or a bundled dataset name.")
    ],
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of the price coloured by regime.")
    ] = None,
) -> None:
    """Label every bar with its market regime and print the share of each."""
    from regime_trader.data import load_ohlcv
    from regime_trader.frames import feature_frame
    from regime_trader.regimes import mean_run_length, regime_shares

    frame = feature_frame(input)
    labels = frame["regime"].to_numpy()
    table = Table("regime", "share")
    for name, share in regime_shares(labels).items():
        table.add_row(name, f"{share:.1%}")
    out.print(table)
    out.print(f"mean run length: {mean_run_length(labels):.1f} bars")
    if plot is not None:
        from regime_trader.evaluation.report import save_regime_plot

        if plot.suffix.lower() != ".png":
            raise RegimeTraderError(f"--plot must end in .png, got '{plot}'")
        save_regime_plot(plot, load_ohlcv(input)["close"].loc[frame.index], frame["regime"])
        out.print(f"wrote {plot}")


scenarios_app = typer.Typer(help="Synthetic scenarios with known regimes.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")


@scenarios_app.command("generate")
def scenarios_generate(
    kind: Annotated[
        str, typer.Argument(help="uptrend, downtrend, plateau, oscillating or switching.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    bars: Annotated[int, typer.Option(help="Number of bars.", min=2)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 0,
) -> None:
    """Generate OHLCV bars of one scenario plus its `true_regime` column."""
    import numpy as np

    from regime_trader.data import save_frame
    from regime_trader.scenarios import SCENARIO_KINDS, generate

    if kind not in SCENARIO_KINDS:
        raise RegimeTraderError(
            f"unknown scenario '{kind}'; choose one of {', '.join(SCENARIO_KINDS)}"
        )
    frame = generate(kind, bars, rng=np.random.default_rng(seed))
    save_frame(frame, out_path)
    out.print(f"wrote {len(frame):,} {kind} bars to {out_path}")


@app.command("train")
def train_cmd(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder to create.")] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed (overrides the config).")] = None,
    budget: OverrideBudgetOpt = None,
    net: Annotated[
        str | None, typer.Option(help="mlp, enhanced or ensemble (overrides the config).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue the run in this folder from its last checkpoint (kill-safe)."),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a double-DQN agent; keeps the weights with the best validation Sharpe."""
    from regime_trader import api

    if resume is not None:
        if any(v is not None for v in (out_dir, config, data, seed, budget, net)):
            raise RegimeTraderError(
                "--resume RUN_DIR takes no other options: the run's config.yaml is used"
            )
        res = api.resume_run(resume, progress=not quiet)
    else:
        if out_dir is None:
            raise RegimeTraderError("missing --out RUN_DIR (or use --resume RUN_DIR)")
        cfg = api.load_config(
            config,
            data=data,
            seed=seed,
            budget=_budget(budget),  # type: ignore[arg-type]
            net=net,
        )
        res = api.train_run(cfg, out_dir, progress=not quiet)
    out.print(
        f"trained {res.env_steps:,} env steps ({res.updates:,} updates) in {res.seconds:.1f} s "
        f"= {res.steps_per_second:,.0f} steps/s; best validation Sharpe {res.best_val_sharpe:.2f}"
    )
    out.print(f"run folder: {res.run_dir}")


@app.command("tune")
def tune_cmd(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", help="Study folder: results.csv, results.md, best_config.yaml, trials/."
        ),
    ],
    backend: Annotated[
        str,
        typer.Option(
            help="grid (the plan's param_grid), optuna (TPE, median pruning, resumable) or ray."
        ),
    ],
    trials: Annotated[
        int,
        typer.Option(help="grid: repeats per combination; optuna, ray: number of trials.", min=1),
    ],
    config: ConfigOpt = None,
    data: DataOpt = None,
    budget: OverrideBudgetOpt = None,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (--backend ray); default: a local Ray on 2 CPUs."),
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option(help="YAML of dotted config names to value lists (replaces the plan's grid)."),
    ] = None,
) -> None:
    """Hyper-parameter search; writes results.csv, results.md and best_config.yaml into --out."""
    from regime_trader.tuning.run import summary_lines, tune_command

    chosen = _budget(budget)
    df = tune_command(config, data, backend, trials, chosen, out_dir, address, grid)  # type: ignore[arg-type]
    for line in summary_lines(df, backend):
        out.print(line, markup=False)
    out.print(f"results: {out_dir / 'results.md'}; best config: {out_dir / 'best_config.yaml'}")


@app.command()
def backtest(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `train`.")],
    data: Annotated[str, typer.Option(help="Dataset name or file to backtest on.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Folder for metrics.json, equity.csv, trades.csv, report.html."),
    ],
    start: Annotated[str | None, typer.Option(help="First date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (inclusive).")] = None,
) -> None:
    """Backtest a trained agent against buy-and-hold and an SMA crossover."""
    from regime_trader import api

    ev = api.backtest_run(run_dir, data, out_dir, start=start, end=end)
    print_metrics(ev.metrics)
    out.print(f"results in {out_dir}/ (report.html)")


@app.command()
def demo(
    budget: BudgetOpt = "small",
    out_root: Annotated[
        Path, typer.Option("--out-root", help="Parent folder of run folders.")
    ] = Path("runs"),
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """The main job: train on S&P 500 1999-2012, validate 2013-2015, test 2016-2018."""
    from regime_trader import api

    res = api.demo_run(_budget(budget), out_root=out_root, seed=seed, progress=not quiet)  # type: ignore[arg-type]
    idx = res.test.close.index
    metrics = {"mlp (baseline)": res.test.metrics["strategy"]}
    per_regime = {"mlp (baseline)": res.test.per_regime["strategy"]}
    if res.enhanced is not None:
        metrics["enhanced"] = res.enhanced[1].metrics["strategy"]
        per_regime["enhanced"] = res.enhanced[1].per_regime["strategy"]
    for name in ("buy_and_hold", "sma_crossover"):
        metrics[name], per_regime[name] = res.test.metrics[name], res.test.per_regime[name]
    print_metrics(metrics, title=f"Test {idx[0].date()} to {idx[-1].date()} (S&P 500, daily)")
    print_per_regime(per_regime)
    for label, (t, ev) in [
        ("mlp", (res.train, res.test)),
        *([("enhanced", res.enhanced)] if res.enhanced else []),
    ]:
        acc = ev.metrics["strategy"].get("regime_accuracy")
        acc_text = f"; test regime accuracy {acc:.1%}" if acc is not None else ""
        out.print(
            f"{label}: {t.env_steps:,} env steps in {t.seconds:.1f} s ({t.steps_per_second:,.0f} steps/s); "
            f"best validation Sharpe {t.best_val_sharpe:.2f}{acc_text}"
        )
    out.print(
        f"demo took {res.seconds:.0f} s; run folder: {res.run_dir} (report.html; enhanced/report.html)"
    )


def print_metrics(metrics: dict[str, dict[str, float]], title: str = "Backtest") -> None:
    """A rich table: one row per strategy."""
    from regime_trader.evaluation.report import format_metric

    labels = {
        "total_return": "return",
        "cagr": "CAGR",
        "sharpe": "Sharpe",
        "sortino": "Sortino",
        "max_drawdown": "max DD",
        "calmar": "Calmar",
        "win_rate": "win rate",
        "num_trades": "trades",
        "exposure": "exposure",
        "turnover": "turnover/yr",
    }
    keys = list(labels)
    table = Table("strategy", *(labels[k] for k in keys), title=title)
    for name, m in metrics.items():
        table.add_row(name, *(format_metric(k, m[k]) for k in keys))
    out.print(table)


def print_per_regime(per_regime: dict[str, dict[str, float]]) -> None:
    """Compounded return of each strategy inside each regime."""
    names = list(next(iter(per_regime.values())))
    table = Table("strategy", *names, title="Return by regime")
    for name, r in per_regime.items():
        table.add_row(name, *(f"{r[k]:+.1%}" for k in names))
    out.print(table)


def run(argv: list[str] | None = None) -> int:
    """Entry point with the project's exit codes."""
    err = Console(stderr=True, highlight=False)
    try:
        code = app(args=argv, standalone_mode=False)
        return int(code or 0)
    except _USAGE as exc:
        msg = exc.format_message()  # type: ignore[attr-defined]
        err.print(f"error: {msg}", markup=False, soft_wrap=True)
        return 2
    except RegimeTraderError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 2
    except _ABORT:
        err.print("interrupted", markup=False)
        return 130
    except Exception as exc:  # noqa: BLE001 - the contract: one line, exit 1
        if os.environ.get("REGIME_TRADER_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set REGIME_TRADER_DEBUG=1 for a traceback)",
            markup=False,
            soft_wrap=True,
        )
        return 1


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
