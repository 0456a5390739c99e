"""`regime-trader abtest`: load the contenders, backtest them on shared windows, compare.

The statistics and the tables are `evaluation.abtest`'s; this module loads packages or run
folders as `Policy` objects (`package.load_model`) and reads the data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from regime_trader.data import load_ohlcv
from regime_trader.errors import ConfigError
from regime_trader.evaluation.abtest import (
    LETTERS,
    SUMMARY,
    ABSettings,
    Model,
    check_compatible,
    compare_all,
    model_entry,
    plan_check,
    run_windows,
)
from regime_trader.evaluation.results import write_results
from regime_trader.package import load_model, package_digest
from regime_trader.policy.policy import check_out_of_sample, first_unseen
from regime_trader.utils.io import atomic_write_json

__all__ = ["ABSettings", "abtest", "load_models"]


def load_models(paths: list[str | Path]) -> list[Model]:
    """Packages (folders with ``manifest.json``) or run folders, labelled A, B, C, ..."""
    if len(paths) < 2:
        raise ConfigError("an A/B test needs at least two models (packages or run folders)")
    models = []
    for letter, path in zip(LETTERS, paths, strict=False):
        p = Path(path)
        pkg = load_model(p)
        kind = "package" if (p / "manifest.json").is_file() else "run"
        digest = package_digest(p) if kind == "package" else None
        models.append(Model(f"{letter}:{pkg.name}", pkg, kind, digest))
    return models


def out_of_sample(
    models: list[Model], source: str, index: pd.DatetimeIndex, s: ABSettings
) -> tuple[ABSettings, bool]:
    """Settings whose windows avoid the bars any model trained or was selected on.

    Without ``--start`` the windows start ``env.window`` bars after the latest validation
    end among the models trained on ``source``; a ``--start`` inside those bars is refused
    unless ``allow_in_sample`` (then the result says ``in_sample: true``).

    Raises:
        ConfigError: a period inside a model's training or validation bars.
    """
    unseen = first_unseen([m.package for m in models], source, index)
    if s.start is None and unseen is not None:
        return dataclasses.replace(s, start=unseen.first.isoformat()), False
    return s, check_out_of_sample("abtest", s.start, unseen, s.allow_in_sample)


def abtest(
    paths: list[str | Path], source: str, settings: ABSettings, out: str | Path | None = None
) -> dict[str, Any]:
    """Run the A/B test; the summary (also written to ``out/abtest.json`` with the tables).

    Raises:
        ConfigError: fewer than two models, incompatible feature specs, bad settings.
        DataError: unreadable data or too few bars for the windows asked for.
    """
    if settings.runs < 1:
        raise ConfigError(f"--runs must be >= 1, got {settings.runs}")
    models = load_models(paths)
    check_compatible(models)
    bars = load_ohlcv(source)
    settings, in_sample = out_of_sample(models, str(source), pd.DatetimeIndex(bars.index), settings)
    rows, rets, bpy = run_windows(models, bars, str(source), settings)
    runs_used = int(rows["window"].nunique())
    comparisons = compare_all(models, rows, rets, bpy, settings)
    summary = {
        "kind": "abtest",
        "data": {"source": str(source), "bars": len(bars), "bars_per_year": bpy},
        "settings": asdict(settings),
        "models": [model_entry(m, rows, settings.metric) for m in models],
        "champion": models[0].label,
        "comparisons": comparisons,
        "plan_10_runs": plan_check(settings.alpha, settings.min_effect),
        "power_runs_used": plan_check(settings.alpha, settings.min_effect, n=runs_used),
        "in_sample": in_sample,
    }
    if out is not None:
        write_results(out, rows, rets)
        atomic_write_json(Path(out) / SUMMARY, summary)
    return summary
