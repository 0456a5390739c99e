"""Timeframe errors suggest timeframes that fit the data's own bar size."""

from __future__ import annotations

import pandas as pd
import pytest

from regime_trader.errors import DataError
from regime_trader.features.timeframes import coarser_timeframes, multi_timeframe_features


@pytest.mark.parametrize(
    ("bar", "expected"),
    [("1min", ["5min", "15min", "30min"]), ("1h", ["240min", "D", "W"]), ("1D", ["W", "ME"])],
)
def test_coarser_timeframes(bar: str, expected: list[str]) -> None:
    assert coarser_timeframes(pd.Timedelta(bar)) == expected


def test_five_minutes_on_hourly_data_suggests_coarser_than_an_hour(ohlcv_factory) -> None:
    frame = ohlcv_factory(300)
    frame.index = pd.date_range("2020-01-01", periods=300, freq="h", tz="UTC", name="timestamp")
    with pytest.raises(DataError) as info:
        multi_timeframe_features(frame, "5min")
    msg = str(info.value)
    assert "not coarser than the base bars (1-hour)" in msg
    assert "240min,D,W" in msg and "W,ME" not in msg
