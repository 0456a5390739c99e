"""Backtest periods: `--start/--end` select the bars the CLI's `backtest` trades."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regime_trader.envs.market import MarketData
from regime_trader.evaluation.evaluate import period_rows


def _market(ohlcv_factory, freq: str) -> MarketData:
    frame = ohlcv_factory(100, seed=2)
    frame.index = pd.date_range("2023-03-01", periods=100, freq=freq, tz="UTC", name="timestamp")
    return MarketData.build(np.zeros((100, 2)), frame, np.zeros(100, int), names=["a", "b"])


def test_daily_dates_are_inclusive(ohlcv_factory) -> None:
    m = _market(ohlcv_factory, "D")
    lo, hi = period_rows(m, "2023-03-05", "2023-03-10")
    assert m.index[lo] == pd.Timestamp("2023-03-05", tz="UTC")
    assert m.index[hi - 1] == pd.Timestamp("2023-03-10", tz="UTC")
    assert period_rows(m, None, None) == (0, 100)


def test_bare_end_date_covers_the_whole_day_of_hourly_bars(ohlcv_factory) -> None:
    m = _market(ohlcv_factory, "h")
    lo, hi = period_rows(m, "2023-03-02", "2023-03-02")
    assert (lo, hi) == (24, 48)


def test_end_with_time_of_day_is_an_inclusive_instant(ohlcv_factory) -> None:
    m = _market(ohlcv_factory, "h")
    lo, hi = period_rows(m, "2023-03-01 05:00", "2023-03-01 10:00")
    assert m.index[lo] == pd.Timestamp("2023-03-01 05:00", tz="UTC")
    assert m.index[hi - 1] == pd.Timestamp("2023-03-01 10:00", tz="UTC")
