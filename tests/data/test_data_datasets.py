"""Tests of the bundled datasets: metadata matches the files, every file validates."""

from __future__ import annotations

import dataclasses
from functools import cache

import pandas as pd
import pytest

from regime_trader.data import DatasetInfo, dataset_path, list_datasets, load_ohlcv
from regime_trader.errors import DataError

NAMES = [info.name for info in list_datasets()]


@cache
def _load(name: str) -> pd.DataFrame:
    return load_ohlcv(name)


def test_names() -> None:
    assert NAMES == ["spx", "aapl", "eurusd_1h", "btcusdt_1m"]


@pytest.mark.parametrize("info", list_datasets(), ids=NAMES)
def test_metadata_matches_file(info: DatasetInfo) -> None:
    df = _load(info.name)
    assert len(df) == info.rows
    assert df.index[0] == pd.Timestamp(info.start)
    assert df.index[-1] == pd.Timestamp(info.end)
    assert info.bar in {"1d", "1h", "1m"}
    assert info.description and info.source


@pytest.mark.parametrize("name", NAMES)
def test_loads_and_validates(name: str) -> None:
    df = _load(name)
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert (df.dtypes == "float64").all()
    assert str(df.index.tz) == "UTC"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert (df[["open", "high", "low", "close"]] > 0).all().all()


def test_spx_shape() -> None:
    df = _load("spx")
    assert len(df) == 5031
    assert df.index[0] == pd.Timestamp("1999-01-04", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2018-12-31", tz="UTC")
    assert df["volume"].notna().all()


def test_eurusd_has_no_volume() -> None:
    assert _load("eurusd_1h")["volume"].isna().all()


def test_dataset_path() -> None:
    for name in NAMES:
        assert dataset_path(name).is_file()
    assert dataset_path("SPX") == dataset_path("spx")


def test_unknown_dataset() -> None:
    with pytest.raises(DataError, match="unknown dataset 'sp600'.*spx, aapl, eurusd_1h"):
        dataset_path("sp600")


def test_info_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        list_datasets()[0].rows = 1  # type: ignore[misc]


def test_readme_gives_provenance() -> None:
    text = (dataset_path("spx").parent / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert dataset_path(name).name in text
    for commit in ("493811da", "24863901", "dec29656", "arch"):
        assert commit in text
