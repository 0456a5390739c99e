"""Reports state their exact period and flag figures annualised from less than a year."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from regime_trader.evaluation.evaluate import (
    decision_bounds,
    evaluate_period,
    in_sample_note,
    split_notes,
    write_outputs,
)
from regime_trader.evaluation.report import period_lines
from regime_trader.policy.metrics import describe_years, period_summary
from regime_trader.policy.policy import Policy
from regime_trader.policy.prepare import prepare, split_summary


class _AlwaysLong(nn.Module):
    """Q-values that always prefer 'buy' (action 2)."""

    def forward(self, window: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return torch.tensor([0.0, 0.0, 1.0]).expand(window.shape[0], 3)


def test_describe_years() -> None:
    assert describe_years(2.5) == "2.5 years"
    assert describe_years(1 / 6) == "2.0 months"
    assert describe_years(12 / 365.25) == "12 days"


def test_period_summary_flags_short_periods() -> None:
    index = pd.date_range("2020-03-02", periods=42, freq="B", tz="UTC")
    short = period_summary(index, bars_per_year=252.0)
    assert (short["start"], short["end"], short["bars"]) == ("2020-03-02", "2020-04-28", 42)
    assert short["short"] is True
    assert short["note"].startswith("annualised from 2.0 months (42 bars)")
    long = period_summary(pd.date_range("2020-01-01", periods=300, freq="D"), bars_per_year=252)
    assert long["short"] is False and long["note"] is None
    hourly = pd.date_range("2020-01-01 09:00", periods=5, freq="h", tz="UTC")
    assert period_summary(hourly, bars_per_year=6000)["end"] == "2020-01-01 13:00"


def test_period_lines() -> None:
    assert period_lines(None) == []
    lines = period_lines(
        {"start": "2020-03-02", "end": "2020-04-28", "bars": 42, "years": 1 / 6, "note": "x y"}
    )
    assert lines[0].startswith("Period: 2020-03-02 to 2020-04-28 (42 bars, 2.0 months")
    assert lines[1] == "Note: x y."


@pytest.fixture(scope="module")
def short_test(ohlcv_factory, config_factory):
    cfg = config_factory(env={"window": 10})
    data = prepare(cfg, ohlcv=ohlcv_factory(600, seed=4))
    first, last = decision_bounds(data.market, cfg, data.split.test.start, data.split.test.stop)
    return (
        cfg,
        data,
        first,
        last,
        evaluate_period(Policy(cfg, _AlwaysLong(), data.scaler), data.market, first, last),
    )


@pytest.mark.slow  # ~2 s on two busy cores
def test_short_backtest_is_flagged_in_every_output(tmp_path: Path, short_test) -> None:
    _, _, first, last, ev = short_test
    assert ev.period["bars"] == last - first + 1 and ev.period["short"] is True
    write_outputs(ev, tmp_path, title="t")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["period"]["start"] == ev.close.index[0].strftime("%Y-%m-%d")
    assert metrics["period"]["note"].startswith("annualised from")
    assert {"strategy", "buy_and_hold"} <= set(metrics)
    html = (tmp_path / "report.html").read_text()
    assert f"Period: {ev.period['start']} to {ev.period['end']}" in html
    assert '<p class="warning">* Note: annualised from' in html
    assert ">CAGR*</th>" in html and ">Sharpe (ann.)*</th>" in html
    assert ">Max drawdown</th>" in html


def test_split_notes_explain_the_test_period(short_test) -> None:
    cfg, data, _, last, ev = short_test
    record = split_summary(data, cfg)
    tail = data.split.test.stop - 1 - last
    assert tail == 2  # next-open fills: the last decision's fill and its scored step
    lines = split_notes(record, ev.period, tail)
    assert len(lines) == 2
    assert f"tested on {ev.period['start']} to {ev.period['end']}" in lines[0]
    assert f"starts after an embargo of {cfg.env.window} bars (env.window)" in lines[1]
    assert f"ends 2 bar(s) before the data's last bar {record['test']['end']}" in lines[1]


def test_in_sample_note(tmp_path: Path) -> None:
    split = {
        "source": "spx",
        "train": {"start": "1999-02-11", "end": "2012-12-31", "bars": 3494},
        "val": {"start": "2013-02-14", "end": "2015-12-31", "bars": 726},
        "test": {"start": "2016-02-17", "end": "2018-12-31", "bars": 724},
    }
    inside = {"start": "2010-01-04", "end": "2018-12-27"}
    note = in_sample_note(split, inside, "SPX")
    assert note is not None and note.startswith("In sample:") and "starts 2016-02-17" in note
    assert in_sample_note(split, {"start": "2016-02-17"}, "spx") is None
    assert in_sample_note(split, inside, "aapl") is None
    assert in_sample_note(None, inside, "spx") is None
