"""Training progress: a `rich` bar on a terminal, one plain line per validation elsewhere.

When stdout is a terminal the bar shows steps, steps/s, epsilon, loss and validation Sharpe.
When it is not (a log file, CI) the same figures are printed as one line after each
validation, e.g.::

    training 20,000/300,000 steps  1,234 steps/s  eps 0.45  loss 0.0123  val Sharpe 0.81

Disabled (``--quiet``), nothing is shown.
"""

from __future__ import annotations

import math
import sys
import time
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def _is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (False for files, pipes, captures)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def _number(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec``, or ``-`` when it is missing or not finite."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    return format(value, spec)


class TrainProgress:
    """Context manager fed by the training loop through `update`.

    Args:
        total: Env steps of the whole run.
        enabled: False shows nothing (``--quiet``).
        description: Label in front of the bar or line.
        stream: Where to write (default ``sys.stdout``); a terminal gets the bar.
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool = True,
        description: str = "training",
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.live = enabled and _is_terminal(self.stream)
        self.total, self.description = total, description
        self.fields: dict[str, Any] = {
            "rate": 0.0,
            "eps": 1.0,
            "loss": float("nan"),
            "val_sharpe": float("nan"),
            "stage": "",
        }
        self._start = time.perf_counter()
        self._first: int | None = None
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> TrainProgress:
        self._start = time.perf_counter()
        if self.live:
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
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, **self.fields)
        return self

    def update(self, completed: int, **fields: float | str) -> None:
        """Advance to ``completed`` steps; ``val_sharpe`` among ``fields`` marks a validation.

        Steps/s counts only the steps of this call (a resumed run starts from its checkpoint).
        """
        if not self.enabled:
            return
        if self._first is None:
            self._first = completed
        self.fields.update(fields)
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        self.fields["rate"] = (completed - self._first) / elapsed
        if self._progress is not None:
            self._progress.update(self._task, completed=min(completed, self.total), **self.fields)
        elif "val_sharpe" in fields:
            print(self.line(completed), file=self.stream, flush=True)

    def line(self, completed: int) -> str:
        """The plain line printed after a validation when the output is not a terminal."""
        f = self.fields
        text = (
            f"{self.description} {completed:,}/{self.total:,} steps  "
            f"{_number(f['rate'], ',.0f')} steps/s  eps {_number(f['eps'], '.2f')}  "
            f"loss {_number(f['loss'], '.4f')}  val Sharpe {_number(f['val_sharpe'], '.2f')}"
        )
        return f"{text}  stage {f['stage']}" if f["stage"] else text

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, ev, tb)
