"""Tests of validate_ohlcv: normalisation of common spellings and one test per rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regime_trader.data import validate_ohlcv
from regime_trader.data.validation import normalize_ohlcv
from regime_trader.errors import DataError

SRC = "prices.csv"


def _frame(n: int = 6) -> pd.DataFrame:
    """A valid Yahoo-style table with a Date column and capitalised names."""
    close = 100.0 + np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "Date": [f"2020-01-{d:02d}" for d in range(1, n + 1)],
            "Open": close - 0.5,
            "High": close + 1.0,
            "Low": close - 1.0,
            "Close": close,
            "Volume": np.full(n, 1000.0),
        }
    )


def _fails(df: pd.DataFrame, *words: str, **kwargs: object) -> str:
    """Assert that validation fails and the message holds the source and every word."""
    with pytest.raises(DataError) as info:
        validate_ohlcv(df, source=SRC, **kwargs)
    msg = str(info.value)
    for word in (SRC, *words):
        assert word.lower() in msg.lower(), f"{word!r} not in {msg!r}"
    return msg


def test_normalises_yahoo_spelling() -> None:
    raw = _frame()
    out = validate_ohlcv(raw)
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]
    assert (out.dtypes == "float64").all()
    assert isinstance(out.index, pd.DatetimeIndex)
    assert out.index.name == "timestamp"
    assert str(out.index.tz) == "UTC"
    assert out.index[0] == pd.Timestamp("2020-01-01", tz="UTC")
    assert out["close"].tolist() == raw["Close"].tolist()
    assert "Date" in raw.columns  # input untouched


def test_accepts_upper_case_and_timestamp_column() -> None:
    raw = _frame().rename(columns={"Date": "TIMESTAMP", "High": "HIGH", "low": "low"})
    assert validate_ohlcv(raw)["high"].iloc[0] == raw["HIGH"].iloc[0]


def test_datetime_index_and_tz_conversion() -> None:
    raw = _frame().drop(columns="Date")
    raw.index = pd.date_range("2020-01-01 09:30", periods=len(raw), freq="D", tz="America/New_York")
    out = validate_ohlcv(raw)
    assert out.index[0] == pd.Timestamp("2020-01-01 14:30", tz="UTC")


def test_naive_timestamps_are_utc_and_date_time_columns_join() -> None:
    raw = _frame(2).drop(columns="Date")
    raw.insert(0, "time", ["10:00", "11:00"])
    raw.insert(0, "date", ["2020-03-02", "2020-03-02"])
    out = validate_ohlcv(raw)
    assert list(out.index) == [
        pd.Timestamp("2020-03-02 10:00", tz="UTC"),
        pd.Timestamp("2020-03-02 11:00", tz="UTC"),
    ]


def test_mixed_timestamp_formats_parse() -> None:
    raw = _frame(2)
    raw["Date"] = ["2020-01-01", "2020-01-02 12:00"]
    assert validate_ohlcv(raw).index[1] == pd.Timestamp("2020-01-02 12:00", tz="UTC")


def test_missing_volume_gives_nan() -> None:
    out = validate_ohlcv(_frame().drop(columns="Volume"))
    assert out["volume"].isna().all()
    assert out["volume"].dtype == "float64"


def test_adj_close_ignored_unless_asked() -> None:
    raw = _frame()
    raw["Adj Close"] = raw["Close"] / 2
    assert validate_ohlcv(raw)["close"].tolist() == raw["Close"].tolist()
    adj = validate_ohlcv(raw, use_adj_close=True)
    np.testing.assert_allclose(adj["close"], raw["Close"] / 2)
    np.testing.assert_allclose(adj["open"], raw["Open"] / 2)
    np.testing.assert_allclose(adj["high"], raw["High"] / 2)
    np.testing.assert_allclose(adj["low"], raw["Low"] / 2)


def test_use_adj_close_without_column() -> None:
    _fails(_frame(), "'Adj Close' missing", use_adj_close=True)


def test_idempotent_on_valid_frame() -> None:
    once = validate_ohlcv(_frame())
    pd.testing.assert_frame_equal(validate_ohlcv(once), once)


def test_tolerance_absorbs_rounding() -> None:
    raw = _frame()
    raw.loc[2, "High"] = max(raw.loc[2, "Open"], raw.loc[2, "Close"]) * (1 - 1e-12)
    raw.loc[3, "Low"] = min(raw.loc[3, "Open"], raw.loc[3, "Close"]) * (1 + 1e-12)
    validate_ohlcv(raw)


def test_rule_missing_column_suggests_close_match() -> None:
    raw = _frame().rename(columns={"Close": "Close Price"})
    _fails(raw, "'close' missing", "'Close Price'", "rename")


def test_rule_missing_timestamps() -> None:
    _fails(_frame().drop(columns="Date"), "no timestamps", "'Open'", "timestamp")


def test_rule_ambiguous_columns() -> None:
    raw = _frame()
    raw["close"] = raw["Close"]
    _fails(raw, "'Close'", "'close'", "one column per field")


def test_rule_unparseable_timestamp() -> None:
    raw = _frame()
    raw.loc[2, "Date"] = "not-a-date"
    _fails(raw, "unparseable timestamps", "row 2", "'not-a-date'")


def test_rule_numeric_timestamps() -> None:
    raw = _frame()
    raw["Date"] = np.arange(len(raw)) * 86_400_000
    _fails(raw, "timestamps are numbers", "unit='ms'")


def test_rule_non_numeric_price() -> None:
    raw = _frame().astype({"Close": object})
    raw.loc[1, "Close"] = "1,234.5"
    _fails(raw, "non-numeric 'close'", "row 1 (2020-01-02", "'1,234.5'")


def test_rule_nan_price() -> None:
    raw = _frame()
    raw.loc[3, "Close"] = np.nan
    _fails(raw, "NaN/inf 'close'", "row 3 (2020-01-04T00:00:00+00:00)", "1 row(s)")


def test_rule_inf_price() -> None:
    raw = _frame()
    raw.loc[4, "High"] = np.inf
    _fails(raw, "NaN/inf 'high'", "row 4 (2020-01-05", "high=inf")


def test_rule_non_positive_price() -> None:
    raw = _frame()
    raw.loc[1, "Low"] = 0.0
    raw.loc[2, "Low"] = -1.0
    _fails(raw, "non-positive 'low'", "2 row(s)", "row 1 (2020-01-02", "row 2 (2020-01-03")


def test_rule_high_below_open_close() -> None:
    raw = _frame()
    raw.loc[2, "High"] = raw.loc[2, "Close"] - 0.1
    _fails(raw, "high < max(open, close)", "row 2 (2020-01-03", "high=101.9", "1 row(s)")


def test_rule_low_above_open_close() -> None:
    raw = _frame()
    raw.loc[5, "Low"] = raw.loc[5, "Open"] + 0.1
    _fails(raw, "low > min(open, close)", "row 5 (2020-01-06", "min(open, close)=104.5")


def test_rule_duplicate_timestamps() -> None:
    raw = _frame()
    raw.loc[3, "Date"] = raw.loc[2, "Date"]
    _fails(raw, "duplicate timestamps", "row 2 (2020-01-03", "row 3 (2020-01-03", "drop")


def test_rule_unsorted_timestamps() -> None:
    raw = _frame()
    raw.loc[[2, 3], "Date"] = raw.loc[[3, 2], "Date"].to_numpy()
    _fails(raw, "unsorted timestamps", "row 3 (2020-01-03", "2020-01-04", "sort by timestamp")


def test_rule_negative_volume() -> None:
    raw = _frame()
    raw.loc[0, "Volume"] = -5.0
    _fails(raw, "negative or infinite volume", "row 0 (2020-01-01", "volume=-5.0")


def test_rule_too_few_rows() -> None:
    _fails(_frame(5), "too few rows", "5 < min_rows=10", "longer series", min_rows=10)


def test_message_shows_first_rows_and_count() -> None:
    raw = _frame(6)
    raw["High"] = raw["Close"] - 0.1
    msg = _fails(raw, "6 row(s)", "row 0", "row 2", "(and 3 more)")
    assert "row 3 (" not in msg


def test_not_a_frame() -> None:
    with pytest.raises(DataError, match="DataFrame"):
        validate_ohlcv([1, 2, 3])  # type: ignore[arg-type]


def test_normalize_skips_row_rules() -> None:
    raw = _frame()
    raw.loc[1, "Close"] = np.nan
    raw.loc[2, "Low"] = -1.0
    out = normalize_ohlcv(raw, source=SRC)
    assert np.isnan(out["close"].iloc[1])
    assert out["low"].iloc[2] == -1.0
