"""Optuna: TPE sampling, median pruning on validation Sharpe, a resumable SQLite study.

The study lives in ``<out>/optuna.db`` under the fixed name `STUDY_NAME`; running the search
again with the same folder loads it and adds ``trials`` more. Trial ``n`` trains with seed
``train.seed + n`` in ``<out>/trials/optuna-<n>/``. The sampler's seed is ``train.seed`` plus
the number of trials already in the study, so a resumed study does not replay the same
random start-up points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from regime_trader.config import Config
from regime_trader.tuning.common import (
    VAL_KEY,
    DataCache,
    finite,
    result_row,
    train_trial,
    trial_config,
)
from regime_trader.tuning.space import Dim, suggest_optuna

STUDY_NAME = "regime-trader"
STORAGE_FILE = "optuna.db"


def storage_uri(out_dir: Path) -> str:
    """``sqlite:///<abs out_dir>/optuna.db``."""
    return f"sqlite:///{out_dir.resolve() / STORAGE_FILE}"


def load_study(cfg: Config, out_dir: Path) -> Any:
    """Create the study in ``out_dir``, or load it if it exists (``optuna.Study``).

    Pruning: `optuna.pruners.MedianPruner` stops a trial whose validation Sharpe at some step is
    below the median of earlier trials at that step, after 5 finished trials and never at the
    first validation (``n_warmup_steps = 2 * train.eval_every``).
    """
    import optuna  # type: ignore[import-untyped]

    out_dir.mkdir(parents=True, exist_ok=True)
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=5, n_warmup_steps=2 * cfg.train.eval_every
    )
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage_uri(out_dir),
        direction="maximize",
        pruner=pruner,
        load_if_exists=True,
    )
    study.sampler = optuna.samplers.TPESampler(seed=cfg.train.seed + len(study.trials))
    return study


def run_optuna(
    cfg: Config,
    out_dir: Path,
    *,
    trials: int,
    space: Mapping[str, Dim],
    cache: DataCache,
) -> pd.DataFrame:
    """Run ``trials`` more trials of the study in ``out_dir``.

    Returns:
        One row per trial of the whole study (earlier runs included): ``trial``, ``number``,
        ``seed``, ``state`` (complete, pruned, fail, running), ``val_sharpe``, ``env_steps``,
        ``seconds``, params.
    """
    import optuna

    study = load_study(cfg, out_dir)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_optuna(trial, space)
        name, seed = f"optuna-{trial.number:04d}", cfg.train.seed + trial.number
        trial.set_user_attr("trial", name)
        trial.set_user_attr("seed", seed)
        tcfg = trial_config(cfg, params, seed, out_dir)

        def on_eval(step: int, record: dict[str, Any]) -> None:
            value = record.get(VAL_KEY)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), int(step))
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation Sharpe {value:.3f} at step {step}")

        result = train_trial(tcfg, out_dir / "trials" / name, cache.get(tcfg), on_eval)
        trial.set_user_attr("env_steps", result.env_steps)
        trial.set_user_attr("seconds", round(result.seconds, 2))
        return finite(result.best_val_sharpe)

    study.optimize(objective, n_trials=trials, gc_after_trial=False)
    return study_table(study)


def study_table(study: Any) -> pd.DataFrame:
    """Every trial of ``study`` as a results-table row (``val_sharpe`` only when complete)."""
    import optuna

    rows = []
    for t in study.trials:
        attrs = t.user_attrs
        row = result_row(
            attrs.get("trial", f"optuna-{t.number:04d}"),
            t.params,
            attrs.get("seed", -1),
            t.state.name.lower(),
            number=t.number,
        )
        if t.value is not None and t.state == optuna.trial.TrialState.COMPLETE:
            row["val_sharpe"] = t.value
        row["env_steps"] = attrs.get("env_steps", math.nan)
        row["seconds"] = attrs.get("seconds", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)
