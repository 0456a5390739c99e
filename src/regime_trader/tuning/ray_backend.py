"""Ray Tune: trials spread over a Ray cluster (``--address``) or local CPUs.

The driver prepares the data once and puts it in Ray's object store, so workers need neither
the data file nor TA-Lib work of their own (a trial whose params change data settings prepares
its own copy). Each trial asks for ``train.threads`` CPUs and trains on CPU, with seed
``train.seed + <trial index>``, in ``<out>/trials/ray-<trial id>/``; Ray's own experiment
state goes to ``<out>/ray/``. On a multi-machine cluster both paths must be on storage every
node sees (or read trial folders on the node that ran them).

Each trial reports ``val_sharpe`` (the best validation Sharpe so far, so the last report equals
`TrainResult.best_val_sharpe`) after every validation when `train` takes ``on_eval``, and once
at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from regime_trader.config import Config
from regime_trader.policy.prepare import Prepared, prepare
from regime_trader.tuning.common import VAL_KEY, result_row, train_trial, trial_config
from regime_trader.tuning.space import Dim, data_key, ray_space

LOCAL_CPUS = 2


def _trial_index(trial_id: str) -> int:
    """Ray trial ids end in ``_<index>`` (e.g. ``a1b2c_00003``)."""
    tail = trial_id.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _trainable(
    config: dict[str, Any], *, base: dict[str, Any], out_dir: str, data: Prepared | None
) -> None:
    """One Ray trial: train with ``config`` applied and report ``val_sharpe``."""
    from ray import tune  # type: ignore[import-untyped]

    base_cfg = Config.from_dict(base)
    trial_id = tune.get_context().get_trial_id() or "local_0"
    name, seed = f"ray-{trial_id}", base_cfg.train.seed + _trial_index(trial_id)
    cfg = trial_config(base_cfg, config, seed, Path(out_dir), remote=True)
    same_data = data is not None and data_key(cfg) == data_key(base_cfg)
    prepared = data if same_data and data is not None else prepare(cfg, device="cpu")
    best = -math.inf

    def on_eval(step: int, record: dict[str, Any]) -> None:
        nonlocal best
        value = record.get(VAL_KEY)
        if value is not None and math.isfinite(value):
            best = max(best, float(value))
            tune.report({"val_sharpe": best, "env_steps": int(step)})

    res = train_trial(cfg, Path(out_dir) / "trials" / name, prepared, on_eval)
    value = res.best_val_sharpe
    tune.report(
        {
            "val_sharpe": value if math.isfinite(value) else -1e9,
            "env_steps": res.env_steps,
            "seconds": round(res.seconds, 2),
            "seed": seed,
            "trial": name,
        }
    )


def run_ray(
    cfg: Config,
    out_dir: Path,
    *,
    trials: int,
    space: Mapping[str, Dim],
    data: Prepared | None,
    address: str | None = None,
    num_cpus: int | None = None,
) -> pd.DataFrame:
    """Sample ``trials`` points of ``space`` with Ray Tune and train them in parallel.

    Args:
        cfg: the base config.
        out_dir: the study folder (absolute paths are passed to workers).
        trials: number of samples.
        space: the search space.
        data: data prepared for ``cfg`` on CPU (None: workers prepare their own).
        address: a running cluster (``ray://host:10001`` or ``host:6379``); None starts a
            local Ray with ``num_cpus`` CPUs (default `LOCAL_CPUS`).
        num_cpus: CPUs of a local Ray.

    Returns:
        One row per trial: ``trial``, ``seed``, ``state`` (complete or error), ``val_sharpe``,
        ``env_steps``, ``seconds``, params.
    """
    import ray  # type: ignore[import-untyped]
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator  # type: ignore[import-untyped]

    out_dir = out_dir.resolve()
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            num_cpus=None if address else (num_cpus or LOCAL_CPUS),
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
        )
    try:
        base = cfg.override(train={"device": "cpu"})
        trainable = tune.with_parameters(
            _trainable, base=base.model_dump(mode="json"), out_dir=str(out_dir), data=data
        )
        trainable = tune.with_resources(trainable, {"cpu": max(cfg.train.threads, 1)})
        tuner = tune.Tuner(
            trainable,
            param_space=ray_space(space),
            tune_config=tune.TuneConfig(
                num_samples=trials,
                metric="val_sharpe",
                mode="max",
                search_alg=BasicVariantGenerator(random_state=cfg.train.seed),
            ),
            run_config=tune.RunConfig(
                name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}",
                storage_path=str(out_dir / "ray"),
                verbose=0,
            ),
        )
        results = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    rows = []
    for i in range(len(results)):
        res = results[i]
        metrics = res.metrics or {}
        params = {k: (res.config or {}).get(k) for k in space}
        complete = res.error is None and "trial" in metrics
        row = result_row(
            metrics.get("trial", f"ray-{metrics.get('trial_id', '?')}"),
            params,
            int(metrics.get("seed", -1)),
            "complete" if complete else "error",
        )
        if complete:
            row.update(
                val_sharpe=metrics["val_sharpe"],
                env_steps=metrics["env_steps"],
                seconds=metrics["seconds"],
            )
        rows.append(row)
    return pd.DataFrame(rows).sort_values("trial", ignore_index=True)
