"""How many bars a run needs, and the record of the split a run used (``split.json``).

A run drops ``warmup`` bars at the start (the feature lookback; never back-filled), then
splits the rest into train, validation and test, leaving ``embargo`` bars out after train and
after validation so that no observation window spans two parts. Each part must hold enough
bars to act: training needs a full observation window plus ``MIN_DECISIONS`` steps,
validation and test ``MIN_DECISIONS`` decisions (plus the fills after the last one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from regime_trader.data.splits import Split, required_rows
from regime_trader.errors import DataError
from regime_trader.utils.dates import format_stamp
from regime_trader.utils.io import atomic_write_json

SPLIT_FILE = "split.json"
MIN_DECISIONS = 20
"""Fewest decision steps of each part (training, validation, test) a run accepts."""

_PARTS = ("train", "val", "test")


def part_minimums(window: int) -> tuple[int, int, int]:
    """Fewest bars of the train, validation and test parts for observation ``window``.

    Training decisions start once a full window lies inside the part and need two bars after
    them (fill and step); validation may look back into its embargo; the test part is the
    series' end, so its last decision also needs the two bars after it.
    """
    return (window + 1 + MIN_DECISIONS, MIN_DECISIONS, MIN_DECISIONS + 2)


def check_enough_bars(
    n_bars: int,
    *,
    source: str,
    warmup: int,
    window: int,
    embargo: int,
    fractions: tuple[float, float, float] | None,
) -> None:
    """Reject a series too short to train on (or, with ``fractions=None``, to backtest).

    Args:
        n_bars: Bars loaded (after ``data.start``/``data.end``).
        source: The file or dataset name, quoted in the error.
        warmup: Bars dropped at the start for the feature lookback.
        window: Observation window (``env.window``).
        embargo: Bars left out after train and after validation.
        fractions: Train/val/test fractions of a fraction split; None for a date split.

    Raises:
        DataError: One line naming the file, the bars it has and the bars it needs.
    """
    mins = part_minimums(window)
    if fractions is not None:
        need = required_rows(fractions, embargo, mins)
        how = f"data.fractions={tuple(fractions)}"
    else:
        need, how = sum(mins) + 2 * embargo, "the split dates"
    if need is None or n_bars >= warmup + need:
        return
    raise DataError(
        f"{source}: {n_bars} bars, too few to train: needs at least {warmup + need} "
        f"({warmup} feature warm-up bars + {need} for train/val/test with {how}, env.window="
        f"{window} and {embargo}-bar embargoes, >= {MIN_DECISIONS} decisions per part). "
        "Use a longer series, or a smaller env.window or shorter feature periods."
    )


def check_backtest_bars(n_bars: int, *, source: str, warmup: int, window: int) -> None:
    """Reject a series too short to backtest: warm-up, one window and two steps.

    Raises:
        DataError: One line naming the file, the bars it has and the bars it needs.
    """
    need = warmup + window + 3
    if n_bars < need:
        raise DataError(
            f"{source}: {n_bars} bars, too few to backtest: needs at least {need} ({warmup} "
            f"feature warm-up bars + env.window={window} + 3). Use a longer series or period."
        )


def split_record(
    split: Split,
    index: pd.DatetimeIndex,
    *,
    source: str,
    warmup: int,
    embargo: int,
    train_end: str | None = None,
    val_end: str | None = None,
    fractions: tuple[float, float, float] | None = None,
) -> dict[str, Any]:
    """The split a run used, JSON-safe (what ``split.json`` holds).

    Args:
        split: The split, in positions of ``index``.
        index: Bar timestamps after the warm-up (the rows the split indexes).
        source: The data source (``data.source``).
        warmup: Bars dropped at the start before ``index`` begins.
        embargo: Bars left out after train and after validation.
        train_end: ``data.train_end`` when the split is by dates.
        val_end: ``data.val_end`` when the split is by dates.
        fractions: ``data.fractions`` when the split is by fractions.

    Returns:
        ``{"source", "method", "train_end", "val_end", "fractions", "bars", "warmup_bars",
        "embargo_bars", "train": {"start", "end", "bars"}, "val": ..., "test": ...}``; ``bars``
        counts the loaded bars (``warmup`` + ``len(index)``).
    """
    by_dates = train_end is not None
    record: dict[str, Any] = {
        "source": source,
        "method": "dates" if by_dates else "fractions",
        "train_end": train_end,
        "val_end": val_end,
        "fractions": None if by_dates or fractions is None else list(fractions),
        "bars": warmup + len(index),
        "warmup_bars": warmup,
        "embargo_bars": embargo,
    }
    for part in _PARTS:
        sub = index[getattr(split, part)]
        first, last = (format_stamp(sub[0]), format_stamp(sub[-1])) if len(sub) else (None, None)
        record[part] = {"start": first, "end": last, "bars": len(sub)}
    return record


def format_split(record: dict[str, Any]) -> str:
    """Two lines for the terminal: the parts, then how they were chosen and what was dropped.

    Example::

        split: train 1999-02-11 to 2012-12-31 (3494 bars), val 2013-02-14 to 2015-12-31 (721),
        test 2016-02-17 to 2018-12-31 (719)
        by dates (train_end 2012-12-31, val_end 2015-12-31); 27 warm-up bars dropped, 30-bar embargo after train and val
    """
    parts = [
        f"{part} {r['start']} to {r['end']} ({r['bars']} bars)"
        for part, r in ((p, record[p]) for p in _PARTS)
    ]
    if record["method"] == "dates":
        how = f"by dates (train_end {record['train_end']}, val_end {record['val_end']})"
    else:
        shares = "/".join(f"{f:g}" for f in record["fractions"] or ())
        how = f"by bar count ({shares} of {record['bars'] - record['warmup_bars']} bars)"
    return (
        f"split of {record['source']}: " + ", ".join(parts) + f"\n  {how}; "
        f"{record['warmup_bars']} warm-up bars dropped at the start, "
        f"{record['embargo_bars']}-bar embargo after train and after val"
    )


def save_split(run_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` to ``run_dir/split.json`` atomically; returns the path."""
    return atomic_write_json(Path(run_dir) / SPLIT_FILE, record)


def load_split(run_dir: str | Path) -> dict[str, Any] | None:
    """The ``split.json`` of a run folder, or None if it has none (older runs)."""
    path = Path(run_dir) / SPLIT_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); delete it or re-train.") from None


def same_source(a: str, b: str) -> bool:
    """Whether two ``data.source`` values name the same dataset or file."""
    pa, pb = Path(a), Path(b)
    if pa.is_file() and pb.is_file():
        return pa.resolve() == pb.resolve()
    return a.lower() == b.lower()
