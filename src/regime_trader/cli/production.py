"""Commands: package, registry (list, register, promote, rollback), abtest."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from regime_trader.cli.app import app
from regime_trader.cli.base import (
    PANEL_RELEASE,
    Command,
    arg,
    force_opt,
    make_app,
    next_steps,
    out,
    say,
)
from regime_trader.errors import ConfigError

if TYPE_CHECKING:
    from regime_trader.registry import Registry, VersionInfo

registry_app = make_app("Model registry: MLflow (SQLite, aliases) or a local folder.")
app.add_typer(registry_app, name="registry", rich_help_panel=PANEL_RELEASE)

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
AliasOpt = Annotated[str, typer.Option(metavar="ALIAS", help="Alias to move.")]
ReasonOpt = Annotated[str, typer.Option(metavar="TEXT", help="Why (recorded as a tag).")]
BACKEND_NAMES = {"mlflow": "MLflow", "local": "local"}


@app.command("package", cls=Command, rich_help_panel=PANEL_RELEASE)
def package_cmd(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A trained run folder.")],
    out_dir: Annotated[Path, typer.Option("--out", metavar="PKG", help="Package folder to write.")],
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="Model name (default: the run's).")
    ] = None,
    version: Annotated[
        str, typer.Option(metavar="SEMVER", help="Semantic version of the model.")
    ] = "1.0.0",
    force: Annotated[bool, force_opt("Replace a package at --out.")] = False,
    sign: Annotated[
        Path | None,
        typer.Option(metavar="KEY", help="Sign the manifest with this Ed25519 private key (PEM)."),
    ] = None,
) -> None:
    """Write a versioned, hash-checked model package (docs/lifecycle.md).

    With --sign the manifest is signed; a loader with REGIME_TRADER_PUBLIC_KEY set refuses
    packages without a valid signature."""
    from regime_trader.package import build_package, load

    path = build_package(run_dir, out_dir, name=name, version=version, force=force, sign_with=sign)
    pkg = load(path)
    rule = "calibrated (calibration.json)" if pkg.calibrated else "uncalibrated (greedy)"
    say(
        f"packaged {pkg.name} {pkg.version} into {path} ({len(pkg.feature_names)} features, "
        f"{rule}); see MODEL_CARD.md"
    )
    next_steps(
        f"regime-trader registry register {arg(path)} --name {arg(pkg.name)}",
        f"REGIME_TRADER_API_KEY=... regime-trader serve {arg(path)}",
    )


def _open(registry: Path, backend: RegistryBackend) -> Registry:
    from regime_trader.registry import open_registry

    return open_registry(registry, backend.value)  # type: ignore[arg-type]


def _where(reg: Registry, registry: Path) -> str:
    """``MLflow registry in registry/``."""
    return f"{BACKEND_NAMES.get(reg.backend, reg.backend)} registry in {registry}/"


def _known(reg: Registry, name: str, registry: Path) -> None:
    """A `ConfigError` naming the registry, the models it has and how to add one."""
    names = sorted({v.name for v in reg.list()})
    if name not in names:
        have = f"it has {', '.join(names)}" if names else "it is empty"
        raise ConfigError(
            f"no model named '{name}' in the {_where(reg, registry)} ({have}): register one "
            f"with `regime-trader registry register PKG --name {name} --registry {arg(registry)}`"
        )


@registry_app.command("list", cls=Command)
def registry_list(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="One model only.")] = None,
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """List registered versions with their aliases (full package paths below the table)."""
    reg = _open(registry, backend)
    versions = reg.list(name)
    if not versions:
        say(f"no models in the {_where(reg, registry)}")
        next_steps(f"regime-trader registry register PKG --registry {arg(registry)}")
        return
    rows = [v.row() for v in versions]
    table = Table(*(k for k in rows[0] if k != "source"), title=_where(reg, registry))
    for r in rows:
        table.add_row(*(str(x) for k, x in r.items() if k != "source"))
    out.print(table)
    for v in versions:
        say(f"{v.name} version {v.version}: {v.source}")
    free = [v for v in versions if not v.aliases]
    if free:  # the newest version without an alias: the candidate to promote
        v = free[-1]
        next_steps(
            f"regime-trader registry promote {arg(v.name)} {v.version} --reason 'why' "
            f"--evidence AB_DIR/abtest.json --registry {arg(registry)}"
        )
    else:
        v = versions[-1]
        next_steps(
            f"regime-trader serve registry:{v.name}@{v.aliases[0]} --registry {arg(registry)}"
        )


@registry_app.command("register", cls=Command)
def registry_register(
    package: Annotated[Path, typer.Argument(metavar="PKG", help="A model package folder.")],
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="Registered name (default: the package's).")
    ] = None,
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """Register a package (verified, copied into the registry) as a new version."""
    reg = _open(registry, backend)
    v = reg.register(package, name)
    say(f"registered {v.name} version {v.version} in the {_where(reg, registry)} ({v.source})")
    next_steps(
        f"regime-trader registry promote {arg(v.name)} {v.version} --reason 'why' "
        f"--evidence AB_DIR/abtest.json --registry {arg(registry)}"
        "  # AB_DIR: `regime-trader abtest CHAMPION_PKG THIS_PKG --out AB_DIR`"
    )


@registry_app.command("promote", cls=Command)
def registry_promote(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model name.")],
    version: Annotated[int, typer.Argument(metavar="VERSION", help="Version number.")],
    reason: ReasonOpt,
    alias: AliasOpt = "champion",
    evidence: Annotated[
        Path | None,
        typer.Option(
            metavar="JSON", help="abtest.json (or its folder) whose verdict for it is promote."
        ),
    ] = None,
    force: Annotated[bool, force_opt("Promote although the evidence does not say so.")] = False,
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """Point an alias at a version; records when, why and the A/B evidence.

    Without --evidence the promotion is recorded with its reason and no A/B evidence, and
    the output says so.
    """
    reg = _open(registry, backend)
    _known(reg, name, registry)
    v = reg.promote(name, version, alias=alias, reason=reason, evidence=evidence, force=force)
    say(f"{name} version {v.version} is now '{alias}'")
    say(_promotion_record(v, alias, reason, evidence))
    next_steps(
        f"regime-trader serve registry:{name}@{alias} --registry {arg(registry)}"
        "  # a running `serve --watch` switches by itself"
    )


def _promotion_record(v: VersionInfo, alias: str, reason: str, evidence: Path | None) -> str:
    """What the promotion recorded, in words (reason, evidence and its verdict, --force)."""
    import json

    if evidence is None:
        return (
            f"recorded: reason {reason!r}; no A/B evidence (none given: --evidence "
            "AB_DIR/abtest.json records the test that justifies it)"
        )
    raw = v.tags.get(f"promoted.{alias}.evidence", "{}")
    try:
        record: dict[str, Any] = json.loads(raw) if raw.startswith("{") else {}
    except ValueError:
        record = {}
    verdict = record.get("verdict")
    forced = " (--force: promoted against it)" if verdict != "promote" else ""
    return f"recorded: reason {reason!r}; evidence {evidence}, verdict {verdict}{forced}"


@registry_app.command("rollback", cls=Command)
def registry_rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model name.")],
    alias: AliasOpt = "champion",
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="Why (recorded as a tag).")
    ] = "rollback",
    registry: RegistryOpt = Path("registry"),
    backend: BackendOpt = RegistryBackend.auto,
) -> None:
    """Move an alias back to the version that held it before the last promotion."""
    reg = _open(registry, backend)
    _known(reg, name, registry)
    v = reg.rollback(name, alias=alias, reason=reason)
    say(f"{name} '{alias}' rolled back to version {v.version}")
    next_steps(f"regime-trader registry list {arg(name)} --registry {arg(registry)}")


def _print_abtest(summary: dict[str, Any]) -> None:
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
        say(f"{c['challenger']}: {c['verdict']}: {c['reason']}")
    used = summary["power_runs_used"]
    say(
        f"{used['runs']} runs detect only d_z >= {used['detectable_effect']:.2f} at 80% power "
        f"({used['runs_needed_min_effect']} runs needed for d_z = "
        f"{summary['settings']['min_effect']})"
    )
    if summary.get("in_sample"):
        say("IN SAMPLE: these windows include bars a model trained or was selected on")
    decisions = "; ".join(
        f"{m['label']} {'calibrated (calibration.json)' if m['calibrated'] else 'greedy'}"
        for m in summary["models"]
    )
    s = summary["settings"]
    span = f"from {s.get('start') or 'the first bar'} to {s.get('end') or 'the last bar'}"
    say(f"Decisions: {decisions}; period: {s['mode']} windows {span} of the data")


def _abtest_next(summary: dict[str, Any], out_dir: Path | None) -> list[str]:
    """Register and promote a winner (with the evidence), else run the test with more runs."""
    models = {m["label"]: m for m in summary["models"]}
    winners = [c for c in summary["comparisons"] if c["verdict"] == "promote"]
    if not winners:
        need = summary["plan_10_runs"]["runs_needed_min_effect"]
        paths = " ".join(arg(m["path"]) for m in summary["models"])
        src = arg(summary["data"]["source"])
        return [f"regime-trader abtest {paths} --data {src} --runs {need} --out AB_DIR"]
    m = models[winners[0]["challenger"]]
    evidence = arg(out_dir / "abtest.json") if out_dir is not None else "AB_DIR/abtest.json"
    steps = []
    if m["kind"] != "package":
        steps.append(f"regime-trader package {arg(m['path'])} --out PKG")
    pkg = arg(m["path"]) if m["kind"] == "package" else "PKG"
    steps.append(f"regime-trader registry register {pkg} --name {arg(m['name'])}")
    steps.append(
        f"regime-trader registry promote {arg(m['name'])} VERSION --reason 'won the A/B test' "
        f"--evidence {evidence}  # VERSION: printed by register"
    )
    return steps


@app.command("abtest", cls=Command, rich_help_panel=PANEL_RELEASE)
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
    allow_in_sample: Annotated[
        bool,
        typer.Option(
            "--allow-in-sample",
            help="Score bars a model trained or was selected on (the result is labelled "
            "in-sample). Default: windows start after every model's validation bars.",
        ),
    ] = False,
) -> None:
    """Paired A/B test of models on the same windows: tests, power, verdict.

    On a model's own training series the windows start after its validation bars
    (split.json); a --start inside them is refused unless --allow-in-sample."""
    from regime_trader.workflows.abtest import ABSettings, abtest

    if len(models) < 2:
        raise ConfigError(
            f"abtest needs at least two models (packages or run folders), the champion first; "
            f"got only {models[0]}: add a challenger, e.g. `regime-trader abtest {arg(models[0])} "
            f"CHALLENGER_PKG --data {arg(data)}`"
        )
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must lie in (0, 1), got {alpha} (e.g. --alpha 0.05)")
    settings = ABSettings(
        runs=runs, window_bars=window_bars, mode=mode.value, seed=seed, alpha=alpha,  # type: ignore[arg-type]
        min_effect=min_effect, start=start, end=end, allow_in_sample=allow_in_sample,
    )  # fmt: skip
    summary = abtest([str(m) for m in models], data, settings, out=out_dir)
    _print_abtest(summary)
    if out_dir is not None:
        say(f"results in {out_dir}/ (abtest.json, results.parquet)")
    next_steps(*_abtest_next(summary, out_dir))
