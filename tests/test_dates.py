"""Date bounds (`regime_trader.utils.dates`): one end-of-range rule for every index unit."""

from __future__ import annotations

import pandas as pd
import pytest

from regime_trader.utils.dates import end_row, exclusive_end, rows_between


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_end_row_is_inclusive_on_any_unit(unit: str) -> None:
    idx = pd.date_range("2020-01-01", periods=72, freq="h", tz="UTC").as_unit(unit)
    assert end_row(idx, "2020-01-01") == 24  # a bare date: its whole day
    assert end_row(idx, "2020-01-02 05:00") == 30  # an instant: rows at or before it
    assert end_row(idx, "2020-01-02 05:30") == 30
    assert rows_between(idx, "2020-01-02", "2020-01-02") == (24, 48)


def test_exclusive_end() -> None:
    idx = pd.date_range("2020-01-01", periods=3, freq="D")
    assert exclusive_end("2020-01-01", idx) == pd.Timestamp("2020-01-02")
    assert exclusive_end("2020-01-01 10:00", idx) == pd.Timestamp("2020-01-01 10:00:00.000000001")
