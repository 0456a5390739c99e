"""Commands: package, registry (list, register, promote, rollback), abtest."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from regime_trader.cli.app import app
from regime_trader.cli.base import Command, make_app, out
from regime_trader.errors import ConfigError

registry_app = make_app("Model registry: MLflow (SQLite, aliases) or a local folder.")
app.add_typer(registry_app, name="registry")

RegistryOpt = Annotated[
    Path, typer.Option("--registry", metavar="DIR", help="Registry folder (mlflow.db, packages/).")
]


class RegistryBackend(str, Enum):
    """Registry stores (`regime_trader.registry.open_registry`)."""

    auto = "auto"
    mlflow = "mlflow"
    local = "local"


class WindowMode(str, Enum):
    """How `abtest` draws its windows."""

    rolling = "rolling"
    random = "random"


BackendOpt = Annotated[
    RegistryBackend, typer.Option(help="auto (MLflow when installed), mlflow or local.")
]
AliasOpt = Annotated[str, typer.Option(help="Alias to move.")]


@app.command("package", cls=Command)
def package_cmd(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A trained run folder.")],
    out_dir: Annotated[Path, typer.Option("--out", metavar="PKG", help="Package folder to write.")],
    name: Annotated[str | None, typer.Option(help="Model name (default: the run's).")] = None,
    version: Annotated[str, typer.Option(help="Semantic version of the model.")] = "1.0.0",
    force: Annotated[bool, typer.Option("--force", help="Replace a package at --out.")] = False,
) -> None:
    """Write a versioned, hash-checked model package (docs/lifecycle.md)."""
    from regime_trader.package import build_package, load

    path = build_package(run_dir, out_dir, name=name, version=version, force=force)
    pkg = load(path)
    out.print(
        f"packaged {pkg.name} {pkg.version} into {path} ({len(pkg.feature_names)} features, "
        f"{'calibrated' if not pkg.rule.is_identity else 'uncalibrated'}); see MODEL_CARD.md",
        markup=False,
    )


def _open(registry: Path, backend: RegistryBackend):  # noqa: ANN202 - a Registry
    from regime_trader.registry import open_registry

    return open_registry(registry, backend.value)  # type: ignore[arg-type]


@registry_app.command("list", cls=Command)
def registry_list(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="One model only.")] = None,
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """List registered versions with their aliases."""
    reg = _open(registry, backend)
    versions = reg.list(name)
    if not versions:
        out.print(f"no models in the {reg.backend} registry {registry}", markup=False)
        return
    rows = [v.row() for v in versions]
    table = Table(*rows[0].keys(), title=f"{reg.backend} registry {registry}")
    for r in rows:
        table.add_row(*(str(x) for x in r.values()))
    out.print(table)


@registry_app.command("register", cls=Command)
def registry_register(
    package: Annotated[Path, typer.Argument(metavar="PKG", help="A model package folder.")],
    name: Annotated[
        str | None, typer.Option(help="Registered name (default: the package's).")
    ] = None,
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """Register a package (verified, copied into the registry) as a new version."""
    reg = _open(registry, backend)
    v = reg.register(package, name)
    out.print(f"registered {v.name} version {v.version} ({reg.backend}: {v.source})", markup=False)


@registry_app.command("promote", cls=Command)
def registry_promote(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model name.")],
    version: Annotated[int, typer.Argument(metavar="VERSION", help="Version number.")],
    reason: Annotated[str, typer.Option(help="Why (recorded as a tag).")],
    alias: AliasOpt = "champion",
    evidence: Annotated[
        Path | None, typer.Option(metavar="JSON", help="abtest.json whose verdict is promote.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote although the evidence does not say so.")
    ] = False,
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """Point an alias at a version; records when, why and the A/B evidence."""
    reg = _open(registry, backend)
    v = reg.promote(name, version, alias=alias, reason=reason, evidence=evidence, force=force)
    out.print(f"{name} version {v.version} is now '{alias}'", markup=False)


@registry_app.command("rollback", cls=Command)
def registry_rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model name.")],
    alias: AliasOpt = "champion",
    reason: Annotated[str, typer.Option(help="Why (recorded as a tag).")] = "rollback",
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """Move an alias back to the version that held it before the last promotion."""
    reg = _open(registry, backend)
    v = reg.rollback(name, alias=alias, reason=reason)
    out.print(f"{name} '{alias}' rolled back to version {v.version}", markup=False)


def _print_abtest(summary: dict) -> None:
    table = Table("champion", "challenger", "mean diff", "p", "p (Holm)", "Sharpe diff 95% CI",
                  "d_z", "power", "verdict", title=f"A/B test, {summary['settings']['runs']} runs")  # fmt: skip
    for c in summary["comparisons"]:
        ci = c["sharpe_ci"]
        ci_text = "-" if ci is None else f"{ci['diff']:.2f} [{ci['low']:.2f}, {ci['high']:.2f}]"
        table.add_row(
            c["champion"], c["challenger"], f"{c['mean_diff']:.3f}", f"{c['p_value']:.3g}",
            f"{c['p_holm']:.3g}", ci_text, f"{c['effect_size']:.2f}",
            f"{c['power']['power_at_min_effect']:.0%}", c["verdict"],
        )  # fmt: skip
    out.print(table)
    for c in summary["comparisons"]:
        out.print(f"{c['challenger']}: {c['verdict']}: {c['reason']}", markup=False)
    plan = summary["plan_10_runs"]
    out.print(
        f"10 runs detect only d_z >= {plan['detectable_effect']:.2f} at 80% power "
        f"({plan['runs_needed_min_effect']} runs needed for d_z = "
        f"{summary['settings']['min_effect']})",
        markup=False,
    )


@app.command("abtest", cls=Command)
def abtest_cmd(
    models: Annotated[
        list[Path],
        typer.Argument(
            metavar="MODEL", help="Two or more packages or run folders; the first is the champion."
        ),
    ],
    data: Annotated[str, typer.Option(metavar="INPUT", help="Dataset name or file to test on.")],
    runs: Annotated[int, typer.Option(help="Windows (paired runs) per model.", min=1)] = 10,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Folder for abtest.json and results.parquet."),
    ] = None,
    mode: Annotated[
        WindowMode, typer.Option(help="rolling (disjoint) or random windows.")
    ] = WindowMode.rolling,
    window_bars: Annotated[int | None, typer.Option(help="Bars per window.", min=20)] = None,
    start: Annotated[str | None, typer.Option(metavar="DATE", help="First decision date.")] = None,
    end: Annotated[str | None, typer.Option(metavar="DATE", help="Last decision date.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of windows and resampling.")] = 0,
    alpha: Annotated[float, typer.Option(help="Family-wise significance level.")] = 0.05,
    min_effect: Annotated[
        float, typer.Option(help="Smallest paired effect d_z worth detecting.")
    ] = 0.5,
) -> None:
    """Paired A/B test of models on the same windows: tests, power, verdict."""
    from regime_trader.evaluation.abtest import ABSettings, abtest

    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must lie in (0, 1), got {alpha}")
    settings = ABSettings(
        runs=runs, window_bars=window_bars, mode=mode.value, seed=seed, alpha=alpha,  # type: ignore[arg-type]
        min_effect=min_effect, start=start, end=end,
    )  # fmt: skip
    summary = abtest([str(m) for m in models], data, settings, out=out_dir)
    _print_abtest(summary)
    if out_dir is not None:
        out.print(f"results in {out_dir}/ (abtest.json, results.parquet)", markup=False)
