"""Date arguments: a bare date covers its whole day; a date with a time of day is an instant."""

from __future__ import annotations

import pandas as pd

from regime_trader.errors import DataError


def to_utc(value: str | pd.Timestamp) -> pd.Timestamp:
    """Parse a date/time as UTC (naive values are taken as UTC)."""
    try:
        ts = pd.Timestamp(value)
    except ValueError:
        raise DataError(f"'{value}' is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def rows_between(index: pd.DatetimeIndex, start: str | None, end: str | None) -> tuple[int, int]:
    """Row range ``[lo, hi)`` of ``index`` between two inclusive bounds."""
    lo = 0 if start is None else int(index.searchsorted(to_utc(start), side="left"))
    if end is None:
        return lo, len(index)
    ts = to_utc(end)
    if ts == ts.normalize():
        return lo, int(index.searchsorted(ts + pd.Timedelta(days=1), side="left"))
    return lo, int(index.searchsorted(ts, side="right"))
