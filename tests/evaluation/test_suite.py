"""`evaluate`: every policy and baseline through one accounting, paired by timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from regime_trader.errors import ConfigError
from regime_trader.evaluation.results import RESULT_COLUMNS, read_results, summary
from regime_trader.policy.metrics import avoidance_ratio, capture_ratio
from regime_trader.workflows.suite import (
    evaluate_part,
    evaluate_suite,
    load_policies,
    worst_drawdown,
)


def test_capture_and_avoidance_on_hand_computed_cases() -> None:
    """Compounded returns: +21% = two steps of +10%, -19% = two of -10%."""
    assert capture_ratio(0.1, 0.21) == pytest.approx(0.1 / 0.21)
    assert np.isnan(capture_ratio(0.1, 0.001))  # move under 1%
    assert avoidance_ratio(0.0, -0.19) == 1.0
    assert avoidance_ratio(-0.19, -0.19) == pytest.approx(0.0)
    assert avoidance_ratio(-0.1, -0.19) == pytest.approx(1 - 0.1 / 0.19)
    assert np.isnan(avoidance_ratio(-0.1, -0.005))


def test_worst_drawdown_finds_peak_and_trough() -> None:
    close = np.r_[np.linspace(100, 120, 20), np.linspace(120, 80, 30), np.linspace(80, 90, 10)]
    assert worst_drawdown(close) == (19, 49)
    assert worst_drawdown(np.linspace(1, 2, 50)) is None  # no drawdown of 10 bars


def test_suite_writes_paired_tidy_tables(tmp_path, tiny_run, series_csv) -> None:
    rows = evaluate_suite(
        [f"agent={tiny_run}"],
        tmp_path / "ev",
        data=[str(series_csv)],
        scenarios="uptrend,switching",
        seeds=(0, 1),
        n_bars=400,
    )
    disk, rets = read_results(tmp_path / "ev")
    assert list(disk.columns) == list(RESULT_COLUMNS)
    pd.testing.assert_frame_equal(
        disk.reset_index(drop=True),
        rows[list(RESULT_COLUMNS)].reset_index(drop=True),
        check_dtype=False,
    )
    assert set(rows["kind"]) == {"synthetic", "real", "stress"} or set(rows["kind"]) == {
        "synthetic",
        "real",
    }
    assert {"agent", "buy_and_hold", "sma_crossover", "random", "oracle"} <= set(rows["policy"])
    whole = rows[rows["regime"] == "all"]
    # every policy of a part trades the same bars
    spans = whole.groupby(["series", "kind", "seed"])[["start", "end", "bars"]].nunique()
    assert (spans == 1).all().all()
    up = rows[(rows["regime"] == "uptrend") & (rows["policy"] == "buy_and_hold")]
    assert np.allclose(up["capture"].dropna(), 1.0)
    # returns table reproduces each row's total return
    one = rets[(rets["policy"] == "agent") & (rets["series"] == "uptrend") & (rets["seed"] == 1)]
    want = whole[
        (whole["policy"] == "agent") & (whole["series"] == "uptrend") & (whole["seed"] == 1)
    ]
    assert np.prod(1 + one["ret"]) - 1 == pytest.approx(float(want["total_return"].iloc[0]))
    table = summary(rows)
    assert set(table.columns) >= {"sharpe", "capture", "avoidance", "runs"}


def test_future_bars_do_not_change_earlier_results(tiny_run, ohlcv_factory) -> None:
    """Perturb every bar after row k: the step returns before k - 2 are unchanged."""
    pols = load_policies([tiny_run], torch.device("cpu"))
    frame = ohlcv_factory(500, seed=9)
    k = 400
    other = frame.copy()
    other.iloc[k:, :4] *= 1.3
    other.iloc[k:, 1] *= 1.05  # keep high >= the rest
    _, a = evaluate_part(pols, frame, series="x", kind="synthetic", seed=0)
    _, b = evaluate_part(pols, other, series="x", kind="synthetic", seed=0)
    for ra, rb in zip(a, b, strict=True):
        cut = ra["timestamp"] < frame.index[k - 2]
        if ra["policy"].iloc[0] == "oracle":
            cut = ra["timestamp"] < frame.index[k - 3]  # the oracle reads one step ahead
        np.testing.assert_array_equal(ra["ret"][cut], rb["ret"][cut.to_numpy()[: len(rb)]])


def test_bad_inputs_are_named(tmp_path, tiny_run) -> None:
    with pytest.raises(ConfigError, match="unknown scenario 'upward'"):
        evaluate_suite([tiny_run], tmp_path / "x", scenarios="upward")
    with pytest.raises(ConfigError, match="not a run folder"):
        evaluate_suite([tmp_path], tmp_path / "x", scenarios="uptrend")
    with pytest.raises(ConfigError, match="nothing to do"):
        evaluate_suite([tiny_run], tmp_path / "x", scenarios="none")
    assert not (tmp_path / "x").exists()
