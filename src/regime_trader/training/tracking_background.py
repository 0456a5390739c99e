"""Tracking off the training path: MLflow's import and database set-up (seconds) run in a
worker thread while training runs, so tracking costs a run well under 2 s of wall time.

`start_tracker` returns the JSON-lines or null tracker as they are (they cost nothing) and
wraps MLflow in a `BackgroundTracker`: calls are queued in order and replayed on the real
tracker in the worker; `close` waits for the queue to drain, then finishes the run (FAILED
when the training raised). A tracker that fails to start never stops training: the error is
logged once and re-raised at `close` after the weights are written.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from regime_trader.config import TrackingConfig
from regime_trader.training.tracking import Tracker, make_tracker, mlflow_available

log = logging.getLogger("regime_trader.tracking")
_Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class BackgroundTracker:
    """A `Tracker` whose real tracker is built and called in a worker thread."""

    def __init__(self, factory: Callable[[], Tracker]) -> None:
        self._calls: queue.Queue[_Call | None] = queue.Queue()
        self._error: BaseException | None = None
        self._exc_type: type[BaseException] | None = None
        self.tracker: Tracker | None = None
        self._thread = threading.Thread(target=self._work, args=(factory,), name="tracking")
        self._thread.daemon = True
        self._thread.start()

    def _work(self, factory: Callable[[], Tracker]) -> None:
        try:
            self.tracker = factory()
        except BaseException as exc:  # noqa: BLE001 - reported at close, training goes on
            self._error = exc
            log.warning("tracking could not start (%s); training continues", exc)
        while (call := self._calls.get()) is not None:
            if self.tracker is None:
                continue
            name, args, kwargs = call
            try:
                getattr(self.tracker, name)(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - one lost metric must not stop training
                log.warning("tracking %s failed: %s", name, exc)
        if self.tracker is not None:
            self.tracker.__exit__(self._exc_type)  # FAILED, KILLED (Ctrl-C) or FINISHED

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._calls.put(("log_params", (dict(params),), {}))

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        self._calls.put(("log_metrics", (dict(metrics),), {"step": step}))

    def log_artifact(self, path: str | Path) -> None:
        self._calls.put(("log_artifact", (path,), {}))

    def close(self) -> None:
        """Drain the queue and finish the run; raise if the tracker never started."""
        if self._thread.is_alive():
            self._calls.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundTracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._exc_type = exc_type
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # noqa: BLE001 - the training's own error is the one to see
            log.warning("tracking failed as well", exc_info=True)


def start_tracker(
    cfg: TrackingConfig, run_dir: str | Path, run_name: str, *, resume: bool = False
) -> Tracker:
    """`make_tracker`, with MLflow started in the background (see the module docstring)."""
    backend: str = cfg.backend
    if backend == "auto":
        backend = os.environ.get("REGIME_TRADER_TRACKING", "") or (
            "mlflow" if mlflow_available() else "jsonl"
        )
    if backend != "mlflow":
        return make_tracker(cfg, run_dir, run_name, resume=resume)
    if not mlflow_available():  # the one-line error at once, not at the end of training
        return make_tracker(cfg, run_dir, run_name, resume=resume)
    return BackgroundTracker(lambda: make_tracker(cfg, run_dir, run_name, resume=resume))
