"""Tests of chronological_split: date and fraction boundaries, embargo, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from regime_trader.data import Split, chronological_split, load_ohlcv
from regime_trader.data.splits import required_rows
from regime_trader.errors import DataError


@pytest.fixture(scope="module")
def spx_index() -> pd.DatetimeIndex:
    return load_ohlcv("spx").index


@pytest.fixture()
def hourly() -> pd.DatetimeIndex:
    """Five days of hourly bars, 2020-01-01 00:00 to 2020-01-05 23:00 UTC (120 rows)."""
    return pd.date_range("2020-01-01", periods=120, freq="h", tz="UTC")


def test_dates_include_whole_day_with_embargo(hourly: pd.DatetimeIndex) -> None:
    split = chronological_split(hourly, train_end="2020-01-02", val_end="2020-01-03", embargo=2)
    assert split == Split(train=slice(0, 48), val=slice(50, 72), test=slice(74, 120))


def test_time_of_day_boundary_is_inclusive(hourly: pd.DatetimeIndex) -> None:
    split = chronological_split(hourly, train_end="2020-01-02 11:00", val_end="2020-01-04")
    assert split.train == slice(0, 36)
    assert hourly[split.train][-1] == pd.Timestamp("2020-01-02 11:00", tz="UTC")
    assert split.val == slice(36, 96)


def test_test_end_truncates(hourly: pd.DatetimeIndex) -> None:
    split = chronological_split(
        hourly, train_end="2020-01-02", val_end="2020-01-03", test_end="2020-01-04"
    )
    assert split.test == slice(72, 96)


def test_naive_index(hourly: pd.DatetimeIndex) -> None:
    naive = hourly.tz_localize(None)
    split = chronological_split(naive, train_end="2020-01-02", val_end="2020-01-03")
    assert split.train == slice(0, 48)


def test_spx_default_dates(spx_index: pd.DatetimeIndex) -> None:
    split = chronological_split(spx_index, train_end="2012-12-31", val_end="2015-12-31", embargo=5)
    n_train = int((spx_index < pd.Timestamp("2013-01-01", tz="UTC")).sum())
    n_val = int((spx_index < pd.Timestamp("2016-01-01", tz="UTC")).sum())
    assert (n_train, n_val) == (3521, 4277)
    assert split == Split(slice(0, 3521), slice(3526, 4277), slice(4282, 5031))
    info = split.describe(spx_index)
    assert info["train"] == {
        "start": "1999-01-04T00:00:00+00:00",
        "end": "2012-12-31T00:00:00+00:00",
        "rows": 3521,
    }
    assert info["val"]["end"] == "2015-12-31T00:00:00+00:00"
    assert info["val"]["rows"] == 4277 - 3526
    assert info["test"]["start"] == spx_index[4282].isoformat()
    assert info["test"]["rows"] == 5031 - 4282


def test_fractions_with_embargo() -> None:
    index = pd.date_range("2020-01-01", periods=100, freq="D", tz="UTC")
    split = chronological_split(index, fractions=(0.6, 0.2, 0.2), embargo=3)
    assert split == Split(slice(0, 60), slice(63, 80), slice(83, 100))
    assert chronological_split(index) == Split(slice(0, 70), slice(70, 85), slice(85, 100))


def test_describe_counts_rows(hourly: pd.DatetimeIndex) -> None:
    info = chronological_split(hourly, fractions=(0.5, 0.25, 0.25)).describe(hourly)
    assert [info[p]["rows"] for p in ("train", "val", "test")] == [60, 30, 30]


def test_error_train_end_not_before_val_end(hourly: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError, match="train_end=2020-01-03 must be before val_end=2020-01-02"):
        chronological_split(hourly, train_end="2020-01-03", val_end="2020-01-02")
    with pytest.raises(DataError, match="must be before"):
        chronological_split(hourly, train_end="2020-01-02", val_end="2020-01-02")


def test_error_val_end_not_before_test_end(hourly: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError, match="val_end=2020-01-04 must be before test_end=2020-01-03"):
        chronological_split(
            hourly, train_end="2020-01-02", val_end="2020-01-04", test_end="2020-01-03"
        )


def test_error_empty_train_names_dates_and_range(spx_index: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError) as info:
        chronological_split(spx_index, train_end="1990-12-31", val_end="2000-12-31")
    msg = str(info.value)
    assert "train split is empty" in msg
    assert "train_end=1990-12-31" in msg and "val_end=2000-12-31" in msg
    assert "the data covers 1999-01-04 to 2018-12-31 (5031 bars)" in msg
    assert "data.train_end and data.val_end" in msg and "data.fractions" in msg
    assert "embargo" not in msg  # no embargo given: nothing to lower


def test_error_empty_test(spx_index: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError, match="test split is empty.*val_end=2019-06-30"):
        chronological_split(spx_index, train_end="2012-12-31", val_end="2019-06-30")


def test_error_embargo_swallows_val(hourly: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError, match="val split is empty.*embargo=30"):
        chronological_split(hourly, train_end="2020-01-02", val_end="2020-01-03", embargo=30)


def test_error_names_the_field_that_sets_the_embargo(hourly: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError) as info:
        chronological_split(
            hourly, fractions=(0.5, 0.25, 0.25), embargo=40, source="x.csv",
            embargo_name="env.window",
        )  # fmt: skip
    msg = str(info.value)
    assert msg.startswith("x.csv: the val split is empty")
    assert "embargo=40 bars (env.window)" in msg and "a smaller env.window" in msg
    assert "lower the embargo" not in msg and "\n" not in msg
    assert "2020-01-01 to 2020-01-05 23:00 (120 bars)" in msg


def test_min_rows_per_part(hourly: pd.DatetimeIndex) -> None:
    split = chronological_split(hourly, fractions=(0.5, 0.25, 0.25), min_rows=(60, 30, 30))
    assert split == Split(slice(0, 60), slice(60, 90), slice(90, 120))
    with pytest.raises(
        DataError, match=r"test split has 30 bars \(needs >= 31\).*at least 123 bars"
    ):
        chronological_split(hourly, fractions=(0.5, 0.25, 0.25), min_rows=(1, 1, 31))


@pytest.mark.parametrize(
    ("fractions", "embargo", "mins"),
    [((0.7, 0.15, 0.15), 30, (51, 20, 22)), ((0.5, 0.25, 0.25), 0, (1, 1, 1)),
     ((0.6, 0.2, 0.2), 7, (10, 3, 5)), ((0.8, 0.1, 0.1), 3, (40, 20, 22))],
)  # fmt: skip
def test_required_rows_is_the_smallest_that_fits(
    fractions: tuple[float, float, float], embargo: int, mins: tuple[int, int, int]
) -> None:
    need = required_rows(fractions, embargo, mins)
    assert need is not None
    index = pd.date_range("2020-01-01", periods=need, freq="D", tz="UTC")
    chronological_split(index, fractions=fractions, embargo=embargo, min_rows=mins)
    with pytest.raises(DataError):
        chronological_split(index[:-1], fractions=fractions, embargo=embargo, min_rows=mins)
    assert required_rows((0.8, 0.2, 0.0), 0, 1) is None


def test_error_fractions_sum(hourly: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError, match=r"summing to 1.*\(0.7, 0.2, 0.2\)"):
        chronological_split(hourly, fractions=(0.7, 0.2, 0.2))


def test_error_zero_test_fraction(hourly: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError, match="test split is empty.*fractions=\\(0.8, 0.2, 0.0\\)"):
        chronological_split(hourly, fractions=(0.8, 0.2, 0.0))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"train_end": "2020-01-02"}, "give both train_end and val_end"),
        ({"embargo": -1}, "embargo must be >= 0"),
        ({"train_end": "someday", "val_end": "2020-01-03"}, "train_end='someday' is not a date"),
    ],
)
def test_error_bad_arguments(hourly: pd.DatetimeIndex, kwargs: dict, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        chronological_split(hourly, **kwargs)


def test_error_unsorted_index(hourly: pd.DatetimeIndex) -> None:
    with pytest.raises(DataError, match="strictly increasing"):
        chronological_split(hourly[::-1])
    with pytest.raises(DataError, match="DatetimeIndex"):
        chronological_split(pd.RangeIndex(10))  # type: ignore[arg-type]
