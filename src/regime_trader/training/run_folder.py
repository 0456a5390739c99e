"""A run folder that is safe to train into.

* A folder that already holds a run (``config.yaml``, ``model.safetensors`` or
  ``checkpoint.pt``) is refused unless the call resumes it or forces a new run; ``force``
  first deletes the old run's files, the reports in it (``metrics.json``, ``report.html``, ...)
  and its report or run sub-folders (a backtest's ``test/``, the demo's ``enhanced/``), so
  nothing left in the folder describes another model. Files that regime-trader did not
  write, and an MLflow store kept in the folder (``mlflow.db``, ``mlartifacts/``), stay.
* A start that fails (bad data, bad config, Ctrl-C) before the run's first checkpoint leaves
  the folder as it found it: what the call created is removed (a folder it created, with
  the parents it created, goes entirely).
* Resuming a folder killed before its first checkpoint starts the run again from step 0
  (nothing to continue from; the result is the same as an uninterrupted run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from regime_trader.config import Config
from regime_trader.errors import ConfigError
from regime_trader.training import checkpoint as ckpt
from regime_trader.training.tracking import MLFLOW_ARTIFACTS, MLFLOW_DB, TRACKING_FILE

#: Any of these makes a folder "hold a run".
RUN_MARKERS = (ckpt.CONFIG, ckpt.WEIGHTS, ckpt.CHECKPOINT)
#: Reports written into a folder by `write_outputs` (backtest, demo).
REPORT_FILES = ("metrics.json", "per_regime.json", "equity.csv", "trades.csv", "report.html")
#: Everything a training run writes into its folder (besides an MLflow store).
RUN_FILES = (
    *RUN_MARKERS,
    ckpt.FEATURES,
    ckpt.LOG,
    TRACKING_FILE,
    "split.json",
    "metrics.jsonl",  # JSON-lines tracker
    "params.json",
    "artifacts",
)
KEEP = frozenset({MLFLOW_DB, MLFLOW_ARTIFACTS})


def holds_run(folder: Path) -> list[str]:
    """The `RUN_MARKERS` present in ``folder``."""
    return [name for name in RUN_MARKERS if (folder / name).exists()]


@dataclass(frozen=True)
class RunFolder:
    """Where a `train` call writes, and what to undo if it fails before its first checkpoint.

    Attributes:
        path: the run folder.
        resume: the call continues the checkpoint in ``path``.
        created: the topmost folder this call creates (None: ``path`` existed).
        before: the entries ``path`` held when the call started.
    """

    path: Path
    resume: bool
    created: Path | None
    before: frozenset[str]

    @classmethod
    def claim(cls, out_dir: str | Path, cfg: Config, *, resume: bool, force: bool) -> RunFolder:
        """Check ``out_dir`` for this call (nothing is written, unless ``force`` clears it).

        Raises:
            ConfigError: the folder holds a run and neither ``resume`` nor ``force`` is given;
                ``resume`` on a folder without ``config.yaml`` or with another config.
        """
        path = Path(out_dir)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"'{path}' is a file, not a run folder")
        if resume:
            ckpt.check_same_config(path, cfg)
            if not ckpt.has_checkpoint(path):  # killed before its first checkpoint: start over
                clear_run(path, keep_config=True)
        elif held := holds_run(path):
            if not force:
                raise ConfigError(
                    f"'{path}' already holds a run ({', '.join(held)}): "
                    "use --resume to continue or --force to overwrite"
                )
            clear_run(path)
        created = next((p for p in reversed((path, *path.parents)) if not p.exists()), None)
        before = frozenset(os.listdir(path)) if path.is_dir() else frozenset()
        return cls(path, resume and ckpt.has_checkpoint(path), created, before)

    @contextmanager
    def removed_on_failure(self) -> Iterator[RunFolder]:
        """On any exception before the first checkpoint of a new run, undo what it wrote."""
        try:
            yield self
        except BaseException:
            if not self.resume and not ckpt.has_checkpoint(self.path):
                self._undo()
            raise

    def _undo(self) -> None:
        if not self.path.is_dir():
            return
        for name in set(os.listdir(self.path)) - self.before - KEEP:
            _remove(self.path / name)
        if self.created is not None:  # remove the folders this call made, if now empty
            for folder in (self.path, *self.path.parents):
                if any(folder.iterdir()):
                    break
                folder.rmdir()
                if folder == self.created:
                    break


def clear_run(folder: Path, *, keep_config: bool = False) -> None:
    """Delete a run's files from ``folder``: `RUN_FILES`, `REPORT_FILES` and sub-folders that
    hold a run or a report. Other files and an MLflow store stay."""
    if not folder.is_dir():
        return
    names = [n for n in (*RUN_FILES, *REPORT_FILES) if not (keep_config and n == ckpt.CONFIG)]
    for name in names:
        _remove(folder / name)
    for sub in folder.iterdir():
        if sub.is_dir() and sub.name not in KEEP and _is_output(sub):
            _remove(sub)


def _is_output(folder: Path) -> bool:
    """A run folder or a report folder (what `write_outputs` writes)."""
    return bool(holds_run(folder)) or (
        (folder / "metrics.json").is_file() and (folder / "report.html").is_file()
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
