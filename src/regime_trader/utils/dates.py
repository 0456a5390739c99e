"""Date bounds, in one place: a bare date covers its whole day; a date with a time of day is
an exact instant. Used by the splits, `data.start/end` cuts and backtest periods."""

from __future__ import annotations

import pandas as pd

from regime_trader.errors import DataError


def parse_bound(
    value: str | pd.Timestamp, index: pd.DatetimeIndex, name: str = "date"
) -> pd.Timestamp:
    """Parse a bound in ``index``'s time zone (naive values are taken in that zone)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(
            f"{name}={value!r} is not a date; use e.g. '2012-12-31' or '2012-12-31 16:00'."
        ) from None
    if index.tz is None:
        return ts.tz_localize(None) if ts.tz is not None else ts
    return ts.tz_localize(index.tz) if ts.tz is None else ts.tz_convert(index.tz)


def start_row(index: pd.DatetimeIndex, value: str, name: str = "start") -> int:
    """First row at or after the inclusive bound ``value``."""
    return int(index.searchsorted(parse_bound(value, index, name), side="left"))


def exclusive_end(value: str, index: pd.DatetimeIndex, name: str = "end") -> pd.Timestamp:
    """The first instant after the inclusive bound ``value``: the next midnight for a bare
    date (its whole day is in), else one nanosecond after it."""
    ts = parse_bound(value, index, name)
    return ts + pd.Timedelta(days=1) if ts == ts.normalize() else ts + pd.Timedelta(1, "ns")


def end_row(index: pd.DatetimeIndex, value: str, name: str = "end") -> int:
    """Number of rows at or before the inclusive bound ``value`` (a bare date: its whole day).

    Searched on nanoseconds, where `exclusive_end` is exact whatever the index's unit.
    """
    end = exclusive_end(value, index, name)
    return int(index.as_unit("ns").searchsorted(end, side="left"))


def rows_between(index: pd.DatetimeIndex, start: str | None, end: str | None) -> tuple[int, int]:
    """Row range ``[lo, hi)`` of ``index`` between two inclusive bounds (None: open)."""
    lo = 0 if start is None else start_row(index, start)
    return lo, len(index) if end is None else end_row(index, end)


def format_stamp(ts: pd.Timestamp | str) -> str:
    """A bar time for messages and reports: the date alone at midnight, else date and time."""
    ts = pd.Timestamp(ts)
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")


def utc(stamp: str | pd.Timestamp) -> pd.Timestamp:
    """``stamp`` as a UTC timestamp (a naive one is taken to be UTC)."""
    ts = pd.Timestamp(stamp)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
