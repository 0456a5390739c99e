"""Chronological train / validation / test splits, with an optional embargo between parts.

Boundaries are inclusive end dates. A boundary at midnight, such as ``"2012-12-31"``, is
compared at day resolution: it includes every bar on that day (hourly and minute bars too). A
boundary with a time of day (``"2023-03-10 12:00"``) cuts at that instant, inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from regime_trader.errors import DataError
from regime_trader.utils.dates import end_row, exclusive_end, format_stamp

_PARTS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Integer-position slices of one index into train, validation and test parts.

    Rows in an embargo gap belong to no part.

    Attributes:
        train: Positions of the training rows.
        val: Positions of the validation rows.
        test: Positions of the test rows.
    """

    train: slice
    val: slice
    test: slice

    def describe(self, index: pd.DatetimeIndex) -> dict[str, dict[str, Any]]:
        """Summarise each part of ``index``.

        Args:
            index: The index the split was made on.

        Returns:
            ``{"train": {"start": ts, "end": ts, "rows": n}, "val": ..., "test": ...}`` with
            ISO timestamps (``None`` for an empty part).
        """
        out: dict[str, dict[str, Any]] = {}
        for part in _PARTS:
            sub = index[getattr(self, part)]
            first, last = (sub[0].isoformat(), sub[-1].isoformat()) if len(sub) else (None, None)
            out[part] = {"start": first, "end": last, "rows": len(sub)}
        return out


def chronological_split(
    index: pd.DatetimeIndex,
    *,
    train_end: str | None = None,
    val_end: str | None = None,
    test_end: str | None = None,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    embargo: int = 0,
    min_rows: int | tuple[int, int, int] = 1,
    source: str | None = None,
    embargo_name: str = "embargo",
) -> Split:
    """Split a sorted index into consecutive train, validation and test parts.

    With ``train_end`` and ``val_end``: train holds rows up to ``train_end``, validation rows in
    ``(train_end, val_end]``, test the rows after ``val_end`` (up to ``test_end`` if given).
    Without them: by ``fractions`` of the rows (up to ``test_end`` if given). Then validation
    starts ``embargo`` rows after the last training row, and test ``embargo`` rows after the last
    validation row.

    Args:
        index: Strictly increasing bar timestamps.
        train_end: Last date of training (inclusive); give it together with ``val_end``.
        val_end: Last date of validation (inclusive).
        test_end: Last date of test (inclusive); later rows belong to no part.
        fractions: Train/validation/test fractions, used when no dates are given; sum to 1.
        embargo: Rows left out after train and after validation (e.g. the label horizon).
        min_rows: Fewest rows of each part (one number, or one per train/val/test part).
        source: Name of the data (a file), quoted at the start of every error message.
        embargo_name: What sets the embargo, named in the advice of errors (``"env.window"``
            when a run's config sets it).

    Returns:
        The :class:`Split`.

    Raises:
        DataError: Unsorted or empty index, half-given or unordered dates, fractions that do
            not sum to 1, negative embargo, or a part with fewer than ``min_rows`` rows.
    """
    _check_index(index)
    if embargo < 0:
        raise DataError(f"embargo must be >= 0 rows, got {embargo}.")
    stop = end_row(index, test_end, "test_end") if test_end is not None else len(index)
    if (train_end is None) != (val_end is None):
        raise DataError(
            f"give both train_end and val_end, or neither (got train_end={train_end!r}, "
            f"val_end={val_end!r}); without dates the split uses fractions={fractions}."
        )
    mins = _minimums(min_rows)
    ending = f", test_end={test_end}" if test_end is not None else ""
    if train_end is not None and val_end is not None:
        _check_order(index, train_end, val_end, test_end)
        a, b = end_row(index, train_end, "train_end"), end_row(index, val_end, "val_end")
        what = f"train_end={train_end}, val_end={val_end}{ending}"
        fix = (
            "Set data.train_end and data.val_end inside that range so that each part holds "
            "enough bars, or set both to null to split by data.fractions"
        )
    else:
        a, b = _fraction_positions(stop, fractions)
        what = f"fractions={tuple(fractions)}{ending}"
        need = required_rows(fractions, embargo, mins)
        fix = (
            f"These settings need at least {need} bars: use a longer series or change "
            "data.fractions"
            if need is not None
            else "Give every part a non-zero share in data.fractions"
        )
    if embargo:
        what += f", embargo={embargo} bars ({embargo_name})"
        fix += f"; or use a smaller {embargo_name}" if embargo_name != "embargo" else ""
    split = Split(slice(0, a), slice(a + embargo, b), slice(b + embargo, stop))
    _check_sizes(split, index, mins, f"{what}; the data covers {_span(index)}", fix, source)
    return split


def required_rows(
    fractions: tuple[float, float, float], embargo: int, min_rows: int | tuple[int, int, int] = 1
) -> int | None:
    """Fewest rows for which a split by ``fractions`` leaves every part ``min_rows`` rows.

    Args:
        fractions: Train/validation/test fractions (summing to 1).
        embargo: Rows left out after train and after validation.
        min_rows: Fewest rows of each part (one number or one per part).

    Returns:
        The smallest such row count, or None when a part with a zero fraction needs rows.
    """
    mins = _minimums(min_rows)
    if any(f <= 0 and m > 0 for f, m in zip(fractions, mins, strict=True)):
        return None
    gaps = (0, embargo, embargo)
    # rounding moves a part by at most one row: no n below this bound can fit
    bound = max(
        int((m + g - 1) / f) for f, m, g in zip(fractions, mins, gaps, strict=True) if f > 0
    )
    n = max(bound - 1, 1)
    while not _fits(n, fractions, embargo, mins):
        n += 1
    return n


def _fits(
    n: int, fractions: tuple[float, float, float], embargo: int, mins: tuple[int, ...]
) -> bool:
    """Whether ``n`` rows split by ``fractions`` give each part at least ``mins`` rows."""
    a, b = _fraction_positions(n, fractions)
    sizes = (a, b - a - embargo, n - b - embargo)
    return all(size >= m for size, m in zip(sizes, mins, strict=True))


def _minimums(min_rows: int | tuple[int, int, int]) -> tuple[int, int, int]:
    """``min_rows`` as one minimum per part (at least 1 row each)."""
    mins = (min_rows,) * 3 if isinstance(min_rows, int) else tuple(min_rows)
    if len(mins) != 3:
        raise DataError(f"min_rows must be one number or three (train, val, test), got {mins}.")
    return tuple(max(int(m), 1) for m in mins)  # type: ignore[return-value]


def _span(index: pd.DatetimeIndex) -> str:
    """The range of ``index`` for messages: ``'1999-01-04 to 2018-12-31 (5031 bars)'``."""
    if len(index) == 0:
        return "no bars"
    return f"{format_stamp(index[0])} to {format_stamp(index[-1])} ({len(index)} bars)"


def _check_index(index: pd.DatetimeIndex) -> None:
    """Reject an index that is not a strictly increasing DatetimeIndex."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"chronological_split needs a DatetimeIndex, got {type(index).__name__}.")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise DataError(
            "chronological_split needs strictly increasing timestamps; "
            "validate the frame first (validate_ohlcv) or sort it."
        )


def _check_order(
    index: pd.DatetimeIndex, train_end: str, val_end: str, test_end: str | None
) -> None:
    """Reject boundaries that are not strictly increasing."""
    named = [("train_end", train_end), ("val_end", val_end), ("test_end", test_end)]
    ends = [(n, v) for n, v in named if v is not None]
    for (n1, v1), (n2, v2) in zip(ends, ends[1:], strict=False):
        if exclusive_end(v1, index, n1) >= exclusive_end(v2, index, n2):
            raise DataError(
                f"{n1}={v1} must be before {n2}={v2}: train holds rows <= train_end, val rows "
                "up to val_end, test the rest (up to test_end). Pass dates in that order."
            )


def _fraction_positions(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Return the end positions of train and validation for ``n`` rows split by ``fractions``."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise DataError(
            f"fractions must be three non-negative numbers summing to 1 (train, val, test); "
            f"got {tuple(fractions)} (sum {sum(fractions):.6g})."
        )
    a = round(n * fractions[0])
    return a, round(n * (fractions[0] + fractions[1]))


def _check_sizes(
    split: Split,
    index: pd.DatetimeIndex,
    mins: tuple[int, ...],
    what: str,
    fix: str,
    source: str | None,
) -> None:
    """Reject a split with a part under its minimum, naming the settings, range and fix."""
    for part, need in zip(_PARTS, mins, strict=True):
        part_slice = getattr(split, part)
        n = max(part_slice.stop - part_slice.start, 0)
        if n >= need:
            continue
        head = f"the {part} split is empty" if n == 0 else f"the {part} split has {n} bars"
        prefix = f"{source}: " if source else ""
        raise DataError(f"{prefix}{head} (needs >= {need}) with {what}. {fix}.")
