"""Tests of load_ohlcv and save_frame: names, paths, formats, readable errors, round trips."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regime_trader.data import load_ohlcv, save_frame, validate_ohlcv
from regime_trader.errors import DataError

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2018-01-02,42.540001,43.075001,42.314999,43.064999,40.776306,102223600
2018-01-03,43.132500,43.637501,42.990002,43.057499,40.769207,118071600
2018-01-04,43.134998,43.367500,43.020000,43.257500,40.958565,89738400
2018-01-05,43.360001,43.842499,43.262501,43.750000,41.424908,94640000
"""


@pytest.fixture()
def ohlcv() -> pd.DataFrame:
    """A small valid frame in the contract's form."""
    idx = pd.date_range("2021-03-01 14:30", periods=5, freq="min", tz="UTC", name="timestamp")
    idx = pd.DatetimeIndex(idx.as_unit("ns"), freq=None)  # the contract: ns unit, no freq
    close = np.array([10.0, 10.5, 10.25, 10.125, 10.375])
    return pd.DataFrame(
        {"open": close - 0.1, "high": close + 0.2, "low": close - 0.3, "close": close},
        index=idx,
    ).assign(volume=[1.0, 0.0, np.nan, 3.5, 2.0])


def test_yahoo_export_loads(tmp_path: Path) -> None:
    path = tmp_path / "AAPL.csv"
    path.write_text(YAHOO)
    df = load_ohlcv(path)
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert df.index[0] == pd.Timestamp("2018-01-02", tz="UTC")
    assert df["close"].iloc[0] == pytest.approx(43.064999)
    assert df["volume"].iloc[1] == 118071600.0
    adj = load_ohlcv(str(path), use_adj_close=True)
    assert adj["close"].iloc[0] == pytest.approx(40.776306)
    assert adj["open"].iloc[0] == pytest.approx(42.540001 * 40.776306 / 43.064999)


@pytest.mark.parametrize("name", ["frame.parquet", "frame.csv", "frame.csv.gz"])
def test_round_trip(tmp_path: Path, ohlcv: pd.DataFrame, name: str) -> None:
    path = save_frame(ohlcv, tmp_path / "sub" / name)
    assert path == tmp_path / "sub" / name
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    pd.testing.assert_frame_equal(load_ohlcv(path), ohlcv)


def test_round_trip_unnamed_index(tmp_path: Path, ohlcv: pd.DataFrame) -> None:
    path = save_frame(ohlcv.rename_axis(None), tmp_path / "f.csv")
    assert path.read_text().startswith("timestamp,open,high,low,close,volume")
    pd.testing.assert_frame_equal(load_ohlcv(path), ohlcv)


def test_save_rejects_other_extension(tmp_path: Path, ohlcv: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"\.xlsx.*\.parquet"):
        save_frame(ohlcv, tmp_path / "f.xlsx")
    assert not list(tmp_path.iterdir())


def test_unknown_name_lists_bundled() -> None:
    with pytest.raises(DataError, match="unknown dataset 'nope'.*spx.*aapl"):
        load_ohlcv("nope")


def test_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(DataError, match="missing.csv: file not found.*spx"):
        load_ohlcv(path)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "prices.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match=r"prices.xlsx: unsupported file type '\.xlsx'"):
        load_ohlcv(path)


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a file"):
        load_ohlcv(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty.csv: file is empty"):
        load_ohlcv(path)


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("timestamp,open,high,low,close,volume\n")
    with pytest.raises(DataError, match="header.csv: too few rows: 0"):
        load_ohlcv(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.csv.gz", b"this is not gzip"),
        ("bad.parquet", b"PAR1 not really parquet"),
        ("bad.csv", b'a,b\n"unterminated,1\n'),
    ],
)
def test_garbage_file_gives_data_error(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"{name}: cannot read as"):
        load_ohlcv(path)


def test_text_garbage_names_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("hello world\nsecond line\n")
    with pytest.raises(DataError, match="notes.csv: required column 'open' missing"):
        load_ohlcv(path)


def test_rule_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(YAHOO.replace("43.075001", "40.0"))
    with pytest.raises(DataError, match=r"broken.csv.gz: rule 'high < max\(open, close\)'.*row 0"):
        load_ohlcv(path)


def test_validate_false_keeps_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(YAHOO.replace("43.075001", "40.0"))
    df = load_ohlcv(path, validate=False)
    assert df["high"].iloc[0] == 40.0
    assert str(df.index.tz) == "UTC"


def test_min_rows_passed_through() -> None:
    with pytest.raises(DataError, match="bundled dataset 'spx'.*too few rows"):
        load_ohlcv("spx", min_rows=10_000)


def test_parquet_with_timestamp_column(tmp_path: Path, ohlcv: pd.DataFrame) -> None:
    path = tmp_path / "cols.parquet"
    ohlcv.reset_index().to_parquet(path)
    pd.testing.assert_frame_equal(load_ohlcv(path), validate_ohlcv(ohlcv))


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_are_detected(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "semi.csv"
    path.write_text(YAHOO.replace(",", sep))
    df = load_ohlcv(path)
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert df["close"].iloc[0] == pytest.approx(43.064999)


def test_semicolon_with_decimal_comma_gz(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv.gz"
    text = YAHOO.replace(",", ";").replace(".", ",")
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(text)
    df = load_ohlcv(path)
    assert df["open"].iloc[1] == pytest.approx(43.1325)
    assert len(df) == 4


def test_one_column_frame_blames_the_delimiter() -> None:
    raw = pd.DataFrame({"timestamp;open;high;low;close": ["2020-01-01;1;2;0.5;1.5"]})
    with pytest.raises(DataError) as info:
        validate_ohlcv(raw, source="prices.csv")
    msg = str(info.value)
    assert msg.startswith("prices.csv: ") and "separated by ';'" in msg
    assert "rename" not in msg
