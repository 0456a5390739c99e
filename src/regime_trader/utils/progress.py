"""A `rich` progress bar for training: steps/s, epsilon, loss, validation Sharpe."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainProgress:
    """Context manager; a no-op when disabled or when stderr is not a terminal."""

    def __init__(self, total: int, *, enabled: bool = True, description: str = "training") -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.total, self.description = total, description
        self.fields: dict[str, Any] = {
            "rate": 0.0,
            "eps": 1.0,
            "loss": float("nan"),
            "val_sharpe": float("nan"),
            "stage": "",
        }
        self._start = time.perf_counter()
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> TrainProgress:
        self._start = time.perf_counter()
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} steps"),
                TextColumn(
                    "{task.fields[rate]:,.0f} steps/s  eps {task.fields[eps]:.2f}  "
                    "loss {task.fields[loss]:.4f}  val Sharpe {task.fields[val_sharpe]:.2f}  {task.fields[stage]}"
                ),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, **self.fields)
        return self

    def update(self, completed: int, **fields: float | str) -> None:
        """Advance to ``completed`` steps; refreshes the shown fields given."""
        if self._progress is None:
            return
        self.fields.update(fields)
        self.fields["rate"] = completed / max(time.perf_counter() - self._start, 1e-9)
        self._progress.update(self._task, completed=min(completed, self.total), **self.fields)

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, ev, tb)
