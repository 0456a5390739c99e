"""Experiment tracking: MLflow when installed, else JSON lines in the run folder.

`make_tracker` picks the backend from `TrackingConfig`; every tracker has the same four
methods (`log_params`, `log_metrics`, `log_artifact`, `close`) and works as a context manager,
so the training loop does not care which one it got::

    with make_tracker(cfg.tracking, run_dir, run_dir.name) as tracker:
        tracker.log_params(config_params(cfg))
        tracker.log_metrics({"eval/val_sharpe": 0.8}, step=20_000)

MLflow runs offline: the default tracking URI is a SQLite file, ``runs/mlflow.db`` when the run
folder lies under a folder named ``runs`` (the closest one), else ``<run folder>/mlflow.db``;
artifacts go to ``mlartifacts/`` next to that file. ``mlflow`` is imported lazily, only when an
`MlflowTracker` is created, so ``import regime_trader`` stays fast without it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from regime_trader.config import Config, TrackingConfig
from regime_trader.errors import ConfigError
from regime_trader.utils.io import atomic_write_json

MLFLOW_DB = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"
_T = TypeVar("_T", bound="_Base")


@runtime_checkable
class Tracker(Protocol):
    """What the training loop logs to."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyper-parameters (nested dicts are flattened to dotted names)."""

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """Record numeric metrics at ``step`` (non-numeric values are skipped)."""

    def log_artifact(self, path: str | Path) -> None:
        """Keep a file (or folder) with the run."""

    def close(self) -> None:
        """Finish the run; further calls are errors or no-ops."""

    def __enter__(self) -> Tracker: ...

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None: ...


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys: ``{"agent": {"lr": 1e-3}}`` -> ``{"agent.lr": 1e-3}``.

    Examples:
        >>> flatten_params({"agent": {"lr": 0.001, "hidden": [64, 64]}, "seed": 1})
        {'agent.lr': 0.001, 'agent.hidden': [64, 64], 'seed': 1}
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def config_params(cfg: Config) -> dict[str, Any]:
    """Every config field as a flat ``section.field`` dict (JSON types)."""
    return flatten_params(cfg.model_dump(mode="json"))


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``metrics`` that are real numbers (bools and strings dropped)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and not isinstance(value, (int, float)):
            value = value.item()  # numpy / torch scalars
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


class _Base:
    """Context-manager plumbing shared by the trackers."""

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._finish(failed=exc_type is not None)

    def _finish(self, failed: bool) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass


class NullTracker(_Base):
    """Logs nothing (``tracking.backend: none``)."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Ignore ``params``."""

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """Ignore ``metrics``."""

    def log_artifact(self, path: str | Path) -> None:
        """Ignore ``path``."""

    def close(self) -> None:
        """Nothing to close."""


class JsonlTracker(_Base):
    """``metrics.jsonl`` (one ``{"step": ..., key: value}`` object a line) and ``params.json``.

    Artifacts outside the run folder are copied into ``<run folder>/artifacts/``; files already
    inside it stay where they are.

    Args:
        run_dir: the run folder (created if missing).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.params: dict[str, Any] = {}
        self._metrics = (self.run_dir / "metrics.jsonl").open("a", encoding="utf-8")

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Merge ``params`` (flattened) into ``params.json``."""
        self.params.update(flatten_params(params))
        atomic_write_json(self.run_dir / "params.json", self.params)

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """Append one line ``{"step": step, **metrics}`` (NaN/inf written as null)."""
        values = numeric_metrics(metrics)
        line = {
            "step": int(step),
            **{k: v if math.isfinite(v) else None for k, v in values.items()},
        }
        self._metrics.write(json.dumps(line) + "\n")
        self._metrics.flush()

    def log_artifact(self, path: str | Path) -> None:
        """Copy ``path`` into ``artifacts/`` unless it already lies in the run folder."""
        src = Path(path).resolve()
        if src.is_relative_to(self.run_dir.resolve()):
            return
        dest = self.run_dir / "artifacts" / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest)

    def close(self) -> None:
        """Close ``metrics.jsonl``."""
        if not self._metrics.closed:
            self._metrics.close()


def mlflow_home(run_dir: str | Path) -> Path:
    """Folder of the default MLflow store: the closest ancestor named ``runs``, else ``run_dir``."""
    run_dir = Path(run_dir).resolve()
    for folder in (run_dir, *run_dir.parents):
        if folder.name == "runs":
            return folder
    return run_dir


def default_mlflow_uri(run_dir: str | Path) -> str:
    """``sqlite:///<abs>/mlflow.db`` in `mlflow_home` of ``run_dir``."""
    return f"sqlite:///{mlflow_home(run_dir) / MLFLOW_DB}"


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


class MlflowTracker(_Base):
    """One MLflow run, logged through `MlflowClient` (no global state, no server needed).

    Args:
        uri: tracking URI, e.g. ``sqlite:////abs/runs/mlflow.db`` or ``http://host:5000``.
        experiment: experiment name (created if missing; a SQLite store puts its artifacts in
            ``mlartifacts/`` next to the database file).
        run_name: the run's display name.

    Raises:
        ConfigError: mlflow is not installed.
    """

    def __init__(self, uri: str, experiment: str, run_name: str) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline by default
        try:
            from mlflow.tracking import MlflowClient  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigError(
                "tracking.backend is 'mlflow' but mlflow is not installed: "
                "pip install -e '.[tracking]'"
            ) from None
        self.uri = uri
        artifacts: str | None = None
        db = _sqlite_path(uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
            artifacts = (db.parent / MLFLOW_ARTIFACTS).resolve().as_uri()
        self.client = MlflowClient(tracking_uri=uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            exp_id = self.client.create_experiment(experiment, artifact_location=artifacts)
        else:
            exp_id = exp.experiment_id
        self.experiment_id: str = exp_id
        self.run_id: str = self.client.create_run(exp_id, run_name=run_name).info.run_id
        self._closed = False

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log ``params`` flattened, values as strings (lists as JSON)."""
        from mlflow.entities import Param  # type: ignore[import-untyped]

        flat = flatten_params(params)
        items = [
            Param(k, v if isinstance(v, str) else json.dumps(v, default=str))
            for k, v in flat.items()
        ]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """Log the numeric entries of ``metrics`` at ``step``."""
        from mlflow.entities import Metric  # type: ignore[import-untyped]

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, int(step)) for k, v in numeric_metrics(metrics).items()]
        if items:
            self.client.log_batch(self.run_id, metrics=items)

    def log_artifact(self, path: str | Path) -> None:
        """Upload a file, or a folder's contents under its name."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
        else:
            self.client.log_artifact(self.run_id, str(path))

    def _finish(self, failed: bool) -> None:
        self._terminate("FAILED" if failed else "FINISHED")

    def close(self) -> None:
        """Mark the run finished."""
        self._terminate("FINISHED")

    def _terminate(self, status: str) -> None:
        if not self._closed:
            self._closed = True
            self.client.set_terminated(self.run_id, status=status)


def mlflow_available() -> bool:
    """Whether ``import mlflow`` would work (checked without importing it)."""
    return importlib.util.find_spec("mlflow") is not None


def make_tracker(cfg: TrackingConfig, run_dir: str | Path, run_name: str) -> Tracker:
    """The tracker ``cfg`` asks for.

    ``auto`` means MLflow when it is installed, else JSON lines in ``run_dir``. The MLflow URI is
    ``cfg.uri`` or `default_mlflow_uri` of ``run_dir``.

    Raises:
        ConfigError: ``backend: mlflow`` without mlflow installed.
    """
    backend: str = cfg.backend
    if backend == "auto":
        # REGIME_TRADER_TRACKING=jsonl|none|mlflow overrides "auto" (the test suite uses jsonl)
        backend = os.environ.get("REGIME_TRADER_TRACKING", "") or (
            "mlflow" if mlflow_available() else "jsonl"
        )
    if backend == "none":
        return NullTracker()
    if backend == "jsonl":
        return JsonlTracker(run_dir)
    return MlflowTracker(cfg.uri or default_mlflow_uri(run_dir), cfg.experiment, run_name)
