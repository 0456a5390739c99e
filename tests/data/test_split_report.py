"""Tests of the bars a run needs and of the split record (`split.json`, the printed lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from regime_trader.config import Config
from regime_trader.data import dataset_split
from regime_trader.data.split_report import (
    SPLIT_FILE,
    check_enough_bars,
    format_split,
    load_split,
    part_minimums,
    save_split,
)
from regime_trader.errors import DataError
from regime_trader.policy.prepare import prepare, split_summary


def test_default_config_splits_by_fractions() -> None:
    data = Config().data
    assert (data.train_end, data.val_end) == (None, None)
    assert dataset_split("spx") == {"train_end": "2012-12-31", "val_end": "2015-12-31"}
    assert dataset_split("AAPL") == {"train_end": None, "val_end": None}


def test_too_short_names_the_file_and_the_bars_needed(
    tmp_path: Path, ohlcv_factory, csv_writer
) -> None:
    path = csv_writer(ohlcv_factory(200, seed=3), tmp_path / "short.csv")
    cfg = Config().override(data={"source": str(path)})
    with pytest.raises(DataError) as info:
        prepare(cfg)
    msg = str(info.value)
    assert msg.startswith(f"{path}: 200 bars, too few to train: needs at least 371 ")
    assert "env.window=30" in msg and "\n" not in msg


def test_exactly_enough_bars_trains_every_part(tmp_path: Path, ohlcv_factory, csv_writer) -> None:
    path = csv_writer(ohlcv_factory(371, seed=3), tmp_path / "just.csv")
    cfg = Config().override(data={"source": str(path)})
    data = prepare(cfg)
    sizes = [s.stop - s.start for s in (data.split.train, data.split.val, data.split.test)]
    assert all(n >= m for n, m in zip(sizes, part_minimums(30), strict=True))
    with pytest.raises(DataError, match="370 bars, too few"):
        prepare(cfg, ohlcv=ohlcv_factory(370, seed=3))


def test_backtest_only_needs_a_window(ohlcv_factory) -> None:
    cfg = Config()
    scaler = prepare(cfg, ohlcv=ohlcv_factory(600)).scaler
    assert len(prepare(cfg, ohlcv=ohlcv_factory(60), scaler=scaler, split=False).market) == 33
    with pytest.raises(DataError, match="too few to backtest: needs at least 60"):
        prepare(cfg, ohlcv=ohlcv_factory(59), scaler=scaler, split=False)


def test_date_split_check_names_real_fields(ohlcv_factory) -> None:
    cfg = Config().override(data={"train_end": "2010-06-30", "val_end": "2010-08-15"})
    with pytest.raises(DataError) as info:
        prepare(cfg, ohlcv=ohlcv_factory(600))  # daily bars from 2010-01-01
    msg = str(info.value)
    assert "the val split has" in msg and "data.train_end and data.val_end" in msg
    assert "smaller env.window" in msg and "lower the embargo" not in msg


def test_check_enough_bars_date_split() -> None:
    check_enough_bars(10_000, source="f", warmup=27, window=30, embargo=30, fractions=None)
    with pytest.raises(DataError, match="with the split dates"):
        check_enough_bars(100, source="f", warmup=27, window=30, embargo=30, fractions=None)


def test_split_record_saved_and_formatted(tmp_path: Path, ohlcv_factory) -> None:
    cfg = Config().override(data={"source": "mine.csv"}, env={"window": 10})
    data = prepare(cfg, ohlcv=ohlcv_factory(600))
    record = split_summary(data, cfg)
    assert record["method"] == "fractions" and record["fractions"] == [0.7, 0.15, 0.15]
    assert record["bars"] == 600 and record["warmup_bars"] == 27 and record["embargo_bars"] == 10
    parts = [record[p]["bars"] for p in ("train", "val", "test")]
    assert sum(parts) + 2 * 10 == 600 - 27
    index = data.market.index
    assert record["train"]["start"] == index[0].strftime("%Y-%m-%d")
    assert record["test"]["end"] == index[-1].strftime("%Y-%m-%d")
    path = save_split(tmp_path, record)
    assert path.name == SPLIT_FILE and json.loads(path.read_text()) == record
    assert load_split(tmp_path) == record and load_split(tmp_path / "none") is None
    lines = format_split(record).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"split of mine.csv: train {record['train']['start']} to ")
    assert "27 warm-up bars dropped" in lines[1] and "10-bar embargo" in lines[1]


def test_split_record_by_dates_uses_intraday_times(ohlcv_factory) -> None:
    frame = ohlcv_factory(600)
    frame.index = pd.date_range("2020-01-01", periods=600, freq="h", tz="UTC", name="timestamp")
    cfg = Config().override(
        data={"train_end": "2020-01-15 12:00", "val_end": "2020-01-20"}, env={"window": 10}
    )
    record = split_summary(prepare(cfg, ohlcv=frame), cfg)
    assert record["method"] == "dates" and record["fractions"] is None
    assert record["train"]["end"] == "2020-01-15 12:00"
    assert record["val"]["end"] == "2020-01-20 23:00"
    assert "by dates (train_end 2020-01-15 12:00, val_end 2020-01-20)" in format_split(record)
