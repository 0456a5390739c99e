"""The plan's grid search: every combination of ``param_grid``, ``n_trials`` seeds each.

Repeat ``r`` of every combination uses seed ``train.seed + r``, so combinations are compared on
the same seeds. Finished trials leave ``trial.json`` in their folder; running the search again
in the same folder reuses those whose config (tracking aside) is unchanged, so an interrupted
search continues and a larger ``--trials`` only trains the new repeats.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from regime_trader.config import Config
from regime_trader.tuning.common import (
    DataCache,
    read_trial,
    result_row,
    train_trial,
    trial_config,
    write_trial,
)
from regime_trader.tuning.space import grid_combinations

log = logging.getLogger(__name__)


def run_grid(
    cfg: Config,
    out_dir: Path,
    *,
    grid: Mapping[str, list[Any]],
    repeats: int,
    cache: DataCache,
) -> pd.DataFrame:
    """Train every combination of ``grid`` ``repeats`` times.

    Args:
        cfg: the base config; each trial applies one combination and its seed.
        out_dir: the study folder; trial ``grid-<combo>-r<repeat>`` trains in
            ``out_dir/trials/<trial>/``.
        grid: dotted config name -> list of values.
        repeats: runs per combination (the plan's ``n_trials``).
        cache: prepared data shared across trials.

    Returns:
        One row per trial: ``trial``, ``combo``, ``repeat``, ``seed``, ``state``,
        ``val_sharpe`` (the run's best validation Sharpe), ``env_steps``, ``seconds``, params.
    """
    combos = grid_combinations(grid)
    total = len(combos) * repeats
    rows: list[dict[str, Any]] = []
    for c, params in enumerate(combos):
        for r in range(repeats):
            name = f"grid-{c:04d}-r{r}"
            seed = cfg.train.seed + r
            trial_dir = out_dir / "trials" / name
            tcfg = trial_config(cfg, params, seed, out_dir)
            done = read_trial(trial_dir, tcfg)
            if done is not None:
                rows.append(done["row"])
                continue
            log.info("trial %d/%d %s %s", len(rows) + 1, total, name, params)
            result = train_trial(tcfg, trial_dir, cache.get(tcfg))
            row = result_row(name, params, seed, "complete", result, combo=c, repeat=r)
            write_trial(trial_dir, tcfg, row)
            rows.append(row)
    return pd.DataFrame(rows)
