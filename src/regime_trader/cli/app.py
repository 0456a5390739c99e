"""The `regime-trader` app and its data commands: data, features, regimes, scenarios.

The commands that train or use agents (train, tune, backtest, demo) live in
`regime_trader.cli.training`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regime_trader.cli.base import (
    PANEL_DATA,
    Command,
    InputArg,
    OutFileOpt,
    ScenarioChoice,
    arg,
    make_app,
    next_steps,
    out,
    say,
)
from regime_trader.errors import RegimeTraderError

err = Console(stderr=True, highlight=False)
app = make_app("Regime-aware deep RL trading: data, features, regimes, training, backtests.")
data_app = make_app("Bundled datasets.")
scenarios_app = make_app("Synthetic scenarios with known regimes.")
app.add_typer(data_app, name="data", rich_help_panel=PANEL_DATA)
app.add_typer(scenarios_app, name="scenarios", rich_help_panel=PANEL_DATA)


def version_text() -> str:
    """``regime-trader <version>`` from the installed package's metadata."""
    try:
        return f"regime-trader {package_version('regime-trader')}"
    except PackageNotFoundError:  # running from a source tree that is not installed
        from regime_trader.version import __version__

        return f"regime-trader {__version__}"


def _show_version(show: bool) -> None:
    if show:
        out.print(version_text(), markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Regime-aware deep RL trading: data, features, regimes, training, backtests."""


@data_app.command("list", cls=Command)
def data_list() -> None:
    """List the bundled datasets (usable as INPUT everywhere)."""
    from regime_trader.data import list_datasets

    table = Table("name", "timeframe", "from", "to", "bars", "description")
    datasets = list_datasets()
    for d in datasets:
        table.add_row(d.name, d.bar, str(d.start), str(d.end), f"{d.rows:,}", d.description)
    out.print(table)
    name = datasets[0].name if datasets else "INPUT"
    next_steps(f"regime-trader train --agent regime-aware --data {name} --out runs/{name}")


@app.command(cls=Command, rich_help_panel=PANEL_DATA)
def features(
    source: InputArg,
    out_path: OutFileOpt,
    timeframes: Annotated[
        str | None,
        typer.Option(
            metavar="LIST",
            help="Coarser timeframes joined causally, e.g. 5min,60min (intraday) or W,ME (daily).",
        ),
    ] = None,
) -> None:
    """Compute raw (unscaled) features plus a `regime` column (by name), indexed by timestamp."""
    from regime_trader.data import save_frame
    from regime_trader.evaluation.outputs import regime_names
    from regime_trader.frames import feature_frame

    frame = feature_frame(source, timeframes)
    save_frame(frame.assign(regime=regime_names(frame["regime"])), out_path)
    say(f"wrote {len(frame):,} rows x {frame.shape[1]} columns to {out_path}")
    next_steps(f"regime-trader regimes {arg(source)}")


@app.command(cls=Command, rich_help_panel=PANEL_DATA)
def regimes(
    source: InputArg,
    plot: Annotated[
        Path | None,
        typer.Option(metavar="PNG", help="Write a PNG of the price coloured by regime."),
    ] = None,
) -> None:
    """Label every bar with its market regime and print the share of each."""
    from regime_trader.data import load_ohlcv
    from regime_trader.frames import feature_frame
    from regime_trader.regimes import mean_run_length, regime_shares

    if plot is not None and plot.suffix.lower() != ".png":
        raise RegimeTraderError(f"--plot must end in .png, got '{plot}' (e.g. --plot regimes.png)")
    frame = feature_frame(source)
    labels = frame["regime"].to_numpy()
    table = Table("regime", "share")
    for name, share in regime_shares(labels).items():
        table.add_row(name, f"{share:.1%}")
    out.print(table)
    out.print(f"mean run length: {mean_run_length(labels):.1f} bars")
    if plot is not None:
        from regime_trader.evaluation.report import save_regime_plot

        save_regime_plot(plot, load_ohlcv(source)["close"].loc[frame.index], frame["regime"])
        say(f"wrote {plot}")
    name = Path(source).name.split(".")[0] if Path(source).suffix else source
    next_steps(
        f"regime-trader train --agent regime-aware --data {arg(source)} --out runs/{arg(name)}"
    )


@scenarios_app.command("generate", cls=Command)
def scenarios_generate(
    kind: Annotated[
        ScenarioChoice, typer.Argument(metavar="KIND", help="Scenario kind.", show_default=False)
    ],
    out_path: OutFileOpt,
    bars: Annotated[int, typer.Option(help="Number of bars.", min=2)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 0,
) -> None:
    """Generate OHLCV bars of one scenario plus its `true_regime` column (by name)."""
    import numpy as np

    from regime_trader.data import save_frame
    from regime_trader.evaluation.outputs import regime_names
    from regime_trader.scenarios import generate

    frame = generate(kind.value, bars, rng=np.random.default_rng(seed))
    save_frame(frame.assign(true_regime=regime_names(frame["true_regime"])), out_path)
    say(f"wrote {len(frame):,} {kind.value} bars to {out_path}")
    next_steps(f"regime-trader regimes {arg(out_path)}")


@scenarios_app.command("agreement", cls=Command)
def scenarios_agreement(
    seed: Annotated[int, typer.Option(help="First seed.")] = 0,
    seeds: Annotated[int, typer.Option(help="Number of seeds (one column each).", min=1)] = 5,
    bars: Annotated[int, typer.Option(help="Bars per generated series.", min=300)] = 1500,
) -> None:
    """How often the rule-based detector recovers the true regime (Markdown table).

    One row per scenario kind, one column per seed and the mean; docs/scenarios.md keeps the
    default table.
    """
    from regime_trader.scenarios.agreement import agreement_markdown

    table = agreement_markdown(tuple(range(seed, seed + seeds)), bars)
    out.print(table, end="", markup=False, highlight=False, soft_wrap=True)
    hint = "regime-trader scenarios generate switching --bars 2000 --out switching.csv"
    err.print(f"next: {hint}", markup=False, soft_wrap=True)  # stderr: stdout stays Markdown
