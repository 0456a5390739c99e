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
import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from regime_trader.config import Config, TrackingConfig
from regime_trader.errors import ConfigError
from regime_trader.utils.io import atomic_write_json

MLFLOW_DB = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"
TRACKING_FILE = "tracking.json"  # the run folder's MLflow run: {"uri", "run_id"} (resume)
PID_TAG, HOST_TAG = "regime_trader.pid", "regime_trader.host"  # who runs it (killed-run marking)
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


#: Third-party loggers whose INFO lines ("Creating initial MLflow database tables...") would
#: reach the terminal; `quiet_library_logs` raises them to WARNING.
NOISY_LOGGERS = ("mlflow", "alembic", "sqlalchemy", "huey", "optuna")


def quiet_library_logs(names: tuple[str, ...] = NOISY_LOGGERS) -> None:
    """Show only warnings and errors of the libraries in ``names`` (call after importing them).

    A logger already set above WARNING is left as it is; ``MLFLOW_LOGGING_LEVEL`` in the
    environment keeps MLflow's own level (for debugging the tracking store).
    """
    for name in names:
        if name == "mlflow" and os.environ.get("MLFLOW_LOGGING_LEVEL"):
            continue
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


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
        run_id: continue this run (a resumed training run) instead of creating one; a run
            that no longer exists in the experiment is replaced by a new one.

    Runs carry this process's id and host as tags; on start, RUNNING runs of the experiment
    whose process on this host is gone (killed) are marked ``KILLED``.

    Raises:
        ConfigError: mlflow is not installed.
    """

    def __init__(self, uri: str, experiment: str, run_name: str, run_id: str | None = None) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline by default
        try:
            from mlflow.tracking import MlflowClient  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigError(
                "tracking.backend is 'mlflow' but mlflow is not installed: "
                "pip install -e '.[tracking]'"
            ) from None
        quiet_library_logs()
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
        if run_id is not None and _run_in(self.client, run_id, exp_id):
            self.client.update_run(run_id, status="RUNNING")  # a resumed run continues
        else:
            run_id = self.client.create_run(exp_id, run_name=run_name).info.run_id
        self.run_id: str = run_id
        self.client.set_tag(self.run_id, PID_TAG, str(os.getpid()))
        self.client.set_tag(self.run_id, HOST_TAG, socket.gethostname())
        self.killed = mark_killed_runs(self.client, exp_id, keep=self.run_id)
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

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self._terminate("FINISHED")
        else:  # Ctrl-C is a kill, anything else a failure
            self._terminate("KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")

    def close(self) -> None:
        """Mark the run finished."""
        self._terminate("FINISHED")

    def _terminate(self, status: str) -> None:
        if not self._closed:
            self._closed = True
            self.client.set_terminated(self.run_id, status=status)


def _run_in(client: Any, run_id: str, experiment_id: str) -> bool:
    """Whether ``run_id`` exists (not deleted) in the experiment."""
    try:
        run = client.get_run(run_id)
    except Exception:  # noqa: BLE001 - mlflow raises MlflowException (or a store error)
        return False
    return run.info.experiment_id == experiment_id and run.info.lifecycle_stage == "active"


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: leave the run alone
    return True


def mark_killed_runs(client: Any, experiment_id: str, keep: str | None = None) -> list[str]:
    """Mark RUNNING runs whose process (tags `PID_TAG`, `HOST_TAG`) on this host is gone as
    ``KILLED``; runs of other hosts or without the tags are left alone. Returns their ids."""
    host, killed = socket.gethostname(), []
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    for run in running:
        tags = run.data.tags
        if run.info.run_id == keep or tags.get(HOST_TAG) != host or PID_TAG not in tags:
            continue
        if not _process_alive(int(tags[PID_TAG])):
            client.set_terminated(run.info.run_id, status="KILLED")
            killed.append(run.info.run_id)
    return killed


def mlflow_available() -> bool:
    """Whether ``import mlflow`` would work (checked without importing it)."""
    return importlib.util.find_spec("mlflow") is not None


def make_tracker(
    cfg: TrackingConfig, run_dir: str | Path, run_name: str, *, resume: bool = False
) -> Tracker:
    """The tracker ``cfg`` asks for.

    ``auto`` means MLflow when it is installed, else JSON lines in ``run_dir``. The MLflow URI is
    ``cfg.uri`` or `default_mlflow_uri` of ``run_dir``. An MLflow run's id is saved in
    ``run_dir/tracking.json``; with ``resume`` the run named there is continued (JSON lines
    simply append).

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
    uri = cfg.uri or default_mlflow_uri(run_dir)
    path = Path(run_dir) / TRACKING_FILE
    previous = _read_json(path) if resume else {}
    run_id = previous.get("run_id") if previous.get("uri") == uri else None
    tracker = MlflowTracker(uri, cfg.experiment, run_name, run_id=run_id)
    atomic_write_json(path, {"backend": "mlflow", "uri": uri, "run_id": tracker.run_id})
    return tracker


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; empty when missing or unreadable."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}
