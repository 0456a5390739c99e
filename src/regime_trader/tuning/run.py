"""`tune(cfg, out_dir, backend=...)`: run a search, write the results table and the best config.

Files written into ``out_dir``:

* ``results.csv`` - one row per trial (``trial``, ``seed``, ``state``, ``val_sharpe``,
  ``env_steps``, ``seconds``, then one column per dotted parameter);
* ``results.md`` - the ranking as a Markdown table: for ``grid`` one row per combination with
  the mean, standard deviation and count of its repeats (the plan's ``avg_performance``), for
  ``optuna`` and ``ray`` one row per finished trial;
* ``best_config.yaml`` - the full config of the best row (the base config's seed), loadable with
  ``Config.from_yaml`` or ``regime-trader train --config``; ``best.json`` - its params and score;
* ``trials/<trial>/`` - each trial's run folder.

``trials`` means repeats per combination for ``grid`` (the plan's ``n_trials``) and the number
of trials for ``optuna`` and ``ray``.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from regime_trader.config import Budget, Config
from regime_trader.errors import ConfigError, RegimeTraderError
from regime_trader.overrides import apply_sets
from regime_trader.policy.prepare import Prepared, prepare
from regime_trader.tuning.common import DataCache
from regime_trader.tuning.space import (
    PLAN_GRID,
    PLAN_KEYS,
    SEARCH_SPACE,
    Dim,
    active_space,
    apply_params,
)
from regime_trader.utils.io import atomic_write_json, atomic_write_text

BACKENDS = ("grid", "optuna", "ray")
# backend -> (module it needs, extra that installs it)
_NEEDS = {"optuna": ("optuna", "tracking"), "ray": ("ray", "distributed")}
_FIXED = ("trial", "combo", "repeat", "number", "seed", "state", "val_sharpe", "env_steps")


def check_backend(backend: str) -> None:
    """Raise `ConfigError` for an unknown backend or one whose package is missing."""
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if backend in _NEEDS:
        module, extra = _NEEDS[backend]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"--backend {backend} needs {module}: install the '{extra}' extra: "
                f"pip install -e '.[{extra}]'"
            )


def load_grid(path: str | Path) -> dict[str, list[Any]]:
    """A grid from YAML: ``{"agent.lr": [0.0001, 0.001], ...}`` (plan names like
    ``learning_rate`` are accepted too).

    Raises:
        ConfigError: the file is missing or not a mapping of names to lists.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"grid file '{path}' not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not all(isinstance(v, list) and v for v in raw.values()):
        raise ConfigError(f"{path}: expected a mapping of parameter names to lists of values")
    return {PLAN_KEYS.get(str(k), str(k)): v for k, v in raw.items()}


def tune(
    cfg: Config,
    out_dir: str | Path,
    *,
    backend: str,
    trials: int,
    address: str | None = None,
    data: Prepared | None = None,
    grid: Mapping[str, list[Any]] | None = None,
    num_cpus: int | None = None,
) -> pd.DataFrame:
    """Search hyper-parameters; each trial's objective is `TrainResult.best_val_sharpe`.

    Args:
        cfg: the base config (its budget, data, seed).
        out_dir: the study folder (created; rerunning resumes ``grid`` and ``optuna``).
        backend: ``grid``, ``optuna`` or ``ray``.
        trials: repeats per combination (grid) or number of trials (optuna, ray).
        address: Ray cluster address (``ray`` only); None runs locally.
        data: data prepared for ``cfg`` (None: prepared here once, shared by the trials).
        grid: dotted name -> values. Grid: the combinations to train (default: the plan's
            `PLAN_GRID`). Optuna/Ray: a categorical space (default: `SEARCH_SPACE`). Both
            defaults drop parameters that cannot change a run (`space.active_space`).
        num_cpus: CPUs of a local Ray (default 2).

    Returns:
        The results table (``results.csv``), one row per trial.

    Raises:
        ConfigError: bad backend, missing package, ``trials < 1``, ``address`` without Ray.
        RegimeTraderError: no trial finished.
    """
    check_backend(backend)
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}")
    if address and backend != "ray":
        raise ConfigError("--address is only used with --backend ray")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "base_config.yaml", cfg.to_yaml())
    space: dict[str, Dim]
    if grid is not None:
        space = {k: Dim("choice", choices=tuple(v)) for k, v in grid.items()}
    else:
        space = active_space(cfg, SEARCH_SPACE)
    if backend == "grid":
        from regime_trader.tuning.grid import run_grid

        g = dict(grid) if grid is not None else active_space(cfg, PLAN_GRID)
        df = run_grid(cfg, out, grid=g, repeats=trials, cache=DataCache(cfg, data))
    elif backend == "optuna":
        from regime_trader.tuning.optuna_backend import run_optuna

        df = run_optuna(cfg, out, trials=trials, space=space, cache=DataCache(cfg, data))
    else:
        from regime_trader.tuning.ray_backend import run_ray

        if data is None:
            data = prepare(cfg, device="cpu")
        df = run_ray(
            cfg, out, trials=trials, space=space, data=data, address=address, num_cpus=num_cpus
        )
    write_results(cfg, out, df, backend)
    return df


def param_columns(df: pd.DataFrame) -> list[str]:
    """The dotted parameter columns of a results table."""
    return [c for c in df.columns if "." in c and c not in _FIXED]


def ranking(df: pd.DataFrame, backend: str) -> pd.DataFrame:
    """Finished trials best first; for grid, combinations by mean over their repeats."""
    done = df[(df["state"] == "complete") & df["val_sharpe"].notna()]
    params = param_columns(df)
    if backend != "grid":
        return done.sort_values("val_sharpe", ascending=False, ignore_index=True)
    grouped = done.groupby(params, sort=False) if params else done.groupby(lambda _: 0)
    summary = grouped["val_sharpe"].agg(["mean", "std", "count"])
    summary = summary.rename(columns={"mean": "val_sharpe", "std": "val_sharpe_std", "count": "n"})
    summary = summary.reset_index(drop=not params)
    return summary.sort_values("val_sharpe", ascending=False, ignore_index=True)


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as a GitHub Markdown table (floats to 4 significant digits)."""

    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_results(cfg: Config, out: Path, df: pd.DataFrame, backend: str) -> Config:
    """Write ``results.csv``, ``results.md``, ``best_config.yaml`` and ``best.json``.

    Returns:
        The best config.

    Raises:
        RegimeTraderError: no trial finished.
    """
    df.to_csv(out / "results.csv", index=False)
    ranked = ranking(df, backend)
    states = df["state"].value_counts().to_dict() if len(df) else {}
    head = [
        f"# Tuning results ({backend})",
        "",
        f"{len(df)} trials: " + ", ".join(f"{n} {s}" for s, n in states.items()) + ".",
        "Objective: best validation Sharpe of each run"
        + (" (mean over repeats per combination)." if backend == "grid" else "."),
        "",
    ]
    atomic_write_text(out / "results.md", "\n".join(head) + markdown_table(ranked))
    if ranked.empty:
        raise RegimeTraderError(f"no trial finished; see {out / 'results.csv'}")
    top = ranked.iloc[0]
    params = {c: _plain(top[c]) for c in param_columns(ranked)}
    best = apply_params(cfg, params)
    atomic_write_text(out / "best_config.yaml", best.to_yaml())
    info = {"backend": backend, "val_sharpe": float(top["val_sharpe"]), "params": params}
    if "trial" in ranked.columns:
        info["trial"] = str(top["trial"])
    atomic_write_json(out / "best.json", info)
    return best


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones (for pydantic and JSON)."""
    return value.item() if hasattr(value, "item") else value


def tune_command(
    config_path: str | Path | None,
    data: str | None,
    backend: str,
    trials: int,
    budget: Budget | None,
    out: str | Path,
    address: str | None = None,
    grid: str | Path | None = None,
    sets: Sequence[str] = (),
) -> pd.DataFrame:
    """What ``regime-trader tune`` runs: load the config, apply overrides, `tune`.

    Args:
        config_path: YAML config, or None for the defaults.
        data: dataset name or file overriding ``data.source``.
        backend: ``grid``, ``optuna`` or ``ray``.
        trials: see `tune`.
        budget: ``tiny``, ``small`` or ``full`` (None: the config's ``train.total_steps``).
        out: the study folder.
        address: Ray cluster address.
        grid: YAML grid file (see `load_grid`) replacing the plan's grid / the search space.
        sets: ``section.field=value`` overrides of the base config, applied last.

    Raises:
        ConfigError: unknown backend or budget, missing optional package, bad config or grid.
    """
    check_backend(backend)
    cfg = Config.from_yaml(config_path) if config_path else Config()
    if budget is not None:
        if budget not in ("tiny", "small", "full"):
            raise ConfigError(f"--budget must be tiny, small or full, got '{budget}'")
        cfg = cfg.with_budget(budget)
    if data:
        cfg = cfg.override(data={"source": data})
    cfg = apply_sets(cfg, sets)
    src = Path(cfg.data.source)
    if src.is_file():  # Ray workers may run in another folder
        cfg = cfg.override(data={"source": str(src.resolve())})
    g = load_grid(grid) if grid else None
    return tune(cfg, Path(out), backend=backend, trials=trials, address=address, grid=g)


def summary_lines(df: pd.DataFrame, backend: str, top: int = 5) -> list[str]:
    """A few lines for the terminal: counts and the best rows."""
    ranked = ranking(df, backend).head(top)
    lines = [f"{len(df)} trials ({backend}); best by validation Sharpe:"]
    for row in ranked.to_dict("records"):
        params = ", ".join(f"{k}={_plain(row[k])}" for k in param_columns(ranked))
        lines.append(f"  {row['val_sharpe']:+.3f}  {params}")
    return lines


__all__ = ["BACKENDS", "check_backend", "load_grid", "summary_lines", "tune", "tune_command"]
