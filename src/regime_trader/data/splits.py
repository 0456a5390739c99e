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
from regime_trader.utils.dates import end_row, parse_bound

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

    Returns:
        The :class:`Split`.

    Raises:
        DataError: Unsorted or empty index, half-given or unordered dates, fractions that do
            not sum to 1, negative embargo, or a part that would be empty.
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
    if train_end is not None and val_end is not None:
        _check_order(index, train_end, val_end, test_end)
        a, b = end_row(index, train_end, "train_end"), end_row(index, val_end, "val_end")
        what = f"train_end={train_end}, val_end={val_end}, test_end={test_end}"
    else:
        a, b = _fraction_positions(stop, fractions)
        what = f"fractions={tuple(fractions)}, test_end={test_end}"
    split = Split(slice(0, a), slice(a + embargo, b), slice(b + embargo, stop))
    _check_nonempty(split, index, f"{what}, embargo={embargo}")
    return split


def _check_index(index: pd.DatetimeIndex) -> None:
    """Reject an index that is not a strictly increasing DatetimeIndex."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"chronological_split needs a DatetimeIndex, got {type(index).__name__}.")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise DataError(
            "chronological_split needs strictly increasing timestamps; "
            "validate the frame first (validate_ohlcv) or sort it."
        )


def _exclusive_end(value: str, name: str, index: pd.DatetimeIndex) -> pd.Timestamp:
    """Return the first instant after an inclusive boundary (a whole day for a bare date)."""
    ts = parse_bound(value, index, name)
    if ts == ts.normalize():
        return ts + pd.Timedelta(days=1)
    return ts + pd.Timedelta(1, "ns")


def _check_order(
    index: pd.DatetimeIndex, train_end: str, val_end: str, test_end: str | None
) -> None:
    """Reject boundaries that are not strictly increasing."""
    named = [("train_end", train_end), ("val_end", val_end), ("test_end", test_end)]
    ends = [(n, v) for n, v in named if v is not None]
    for (n1, v1), (n2, v2) in zip(ends, ends[1:], strict=False):
        if _exclusive_end(v1, n1, index) >= _exclusive_end(v2, n2, index):
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


def _check_nonempty(split: Split, index: pd.DatetimeIndex, what: str) -> None:
    """Reject a split with an empty part, naming the settings and the data's range."""
    for part in _PARTS:
        part_slice = getattr(split, part)
        if part_slice.stop <= part_slice.start:
            span = (
                "no data"
                if len(index) == 0
                else (f"{index[0].isoformat()} -> {index[-1].isoformat()}, {len(index)} rows")
            )
            raise DataError(
                f"the {part} split is empty with {what}; the data covers {span}. Move the dates "
                "inside the data's range, lower the embargo, or use a longer series."
            )
