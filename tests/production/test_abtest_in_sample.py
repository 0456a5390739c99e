"""abtest never scores a model on the bars it trained or was selected on without saying so."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from regime_trader.errors import ConfigError
from regime_trader.utils.dates import utc
from regime_trader.workflows.abtest import ABSettings, abtest


def test_windows_start_after_validation_by_default(package_a, run_a, bars_csv) -> None:
    summary = abtest([package_a, run_a], str(bars_csv), ABSettings(runs=2))
    val_end = utc(json.loads((run_a / "split.json").read_text())["val"]["end"])
    start = utc(summary["settings"]["start"])
    assert start > val_end and summary["in_sample"] is False
    assert summary["power_runs_used"]["runs"] == 2  # the power line is for the runs used


def test_an_in_sample_start_is_refused_or_labelled(package_a, run_a, bars_csv) -> None:
    first = pd.read_csv(bars_csv, index_col=0).index[300]
    early = ABSettings(runs=2, start=str(first)[:10])
    with pytest.raises(ConfigError, match="trained or was selected on.*--allow-in-sample"):
        abtest([package_a, run_a], str(bars_csv), early)
    labelled = ABSettings(runs=2, start=str(first)[:10], allow_in_sample=True)
    assert abtest([package_a, run_a], str(bars_csv), labelled)["in_sample"] is True
