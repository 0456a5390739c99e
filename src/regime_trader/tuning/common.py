"""What every backend shares: trial configs, one trial's training, prepared-data reuse."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from regime_trader.config import Config
from regime_trader.errors import ConfigError
from regime_trader.policy.prepare import Prepared, prepare
from regime_trader.training import loop
from regime_trader.training.tracking import default_mlflow_uri
from regime_trader.tuning.space import apply_params, data_key
from regime_trader.utils.device import resolve_device
from regime_trader.utils.io import atomic_write_json

OnEval = Callable[[int, dict[str, Any]], None]
"""Called by `train` after each validation with ``(env_steps, record)``; may raise to stop."""

VAL_KEY = "eval/val_sharpe"
TRIAL_FILE = "trial.json"


def train_trial(
    cfg: Config, trial_dir: Path, data: Prepared, on_eval: OnEval | None = None
) -> loop.TrainResult:
    """Train one trial into ``trial_dir``, calling ``on_eval`` after each validation.

    Exceptions raised by ``on_eval`` (e.g. ``optuna.TrialPruned``) propagate.
    """
    # force: a trial folder without trial.json holds an interrupted or stale trial; retrain it
    return loop.train(cfg, trial_dir, data=data, progress=False, force=True, on_eval=on_eval)


def trial_config(
    base: Config, params: Mapping[str, Any], seed: int, out_dir: Path, *, remote: bool = False
) -> Config:
    """The config of one trial: ``params`` applied, its seed, tracking pointed at the study.

    Trials of one tuning folder share one MLflow experiment ``<experiment>-tune-<folder name>``
    in `default_mlflow_uri` of ``out_dir`` unless ``tracking.uri`` is set. With ``remote``
    (Ray workers, maybe on other machines) a SQLite store is not shared, so trials log JSON
    lines into their own folders instead; an ``http(s)://`` tracking server still works.
    """
    cfg = apply_params(base, params).override(train={"seed": seed})
    tr = cfg.tracking
    tracking: dict[str, Any] = {"experiment": f"{tr.experiment}-tune-{out_dir.name}"}
    if tr.uri is None:
        tracking["uri"] = default_mlflow_uri(out_dir)
    uri = tracking.get("uri", tr.uri)
    if remote and tr.backend in ("auto", "mlflow") and str(uri).startswith("sqlite:"):
        tracking["backend"] = "jsonl"
    return cfg.override(tracking=tracking)


def finite(value: float) -> float:
    """``value``, or -inf for NaN (a failed validation ranks last)."""
    return value if not math.isnan(value) else -math.inf


class DataCache:
    """Prepared data shared by trials whose data settings match (`space.data_key`).

    Args:
        base: the study's config.
        data: data prepared for ``base`` by the caller, or None to prepare it here.
        device: where prepared data lives (None: ``base.train.device`` resolved).
    """

    def __init__(
        self, base: Config, data: Prepared | None = None, device: str | None = None
    ) -> None:
        self.device = device or str(resolve_device(base.train.device))
        self.base_key = data_key(base)
        self.given = data is not None
        self._cache: dict[str, Prepared] = {}
        if data is not None:
            self._cache[self.base_key] = data

    def get(self, cfg: Config) -> Prepared:
        """Data for ``cfg``: cached, or prepared once per distinct data settings.

        Raises:
            ConfigError: ``cfg`` changes data settings while the study was given prepared data.
        """
        key = data_key(cfg)
        if key not in self._cache:
            if self.given:
                raise ConfigError(
                    "the search changes data, features, regimes or env.window/fill, so each "
                    "trial needs its own data: call tune() with data=None"
                )
            self._cache[key] = prepare(cfg, device=self.device)
        return self._cache[key]


def fingerprint(cfg: Config) -> dict[str, Any]:
    """What decides a trial's outcome: the whole config except ``tracking``."""
    return cfg.model_dump(mode="json", exclude={"tracking"})


def read_trial(trial_dir: Path, cfg: Config) -> dict[str, Any] | None:
    """The saved record of a finished trial trained with the same config, else None."""
    path = trial_dir / TRIAL_FILE
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if rec.get("config") == fingerprint(cfg) else None


def write_trial(trial_dir: Path, cfg: Config, row: Mapping[str, Any]) -> None:
    """Save a finished trial's config and results row (``trial.json``) for reruns to reuse."""
    atomic_write_json(trial_dir / TRIAL_FILE, {"config": fingerprint(cfg), "row": dict(row)})


def result_row(
    trial: str,
    params: Mapping[str, Any],
    seed: int,
    state: str,
    result: loop.TrainResult | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One row of the results table: ids, state, objective, cost, then the params."""
    row: dict[str, Any] = {"trial": trial, **extra, "seed": seed, "state": state}
    row["val_sharpe"] = finite(result.best_val_sharpe) if result else math.nan
    row["env_steps"] = result.env_steps if result else math.nan
    row["seconds"] = round(result.seconds, 2) if result else math.nan
    row.update(params)
    return row
