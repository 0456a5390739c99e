"""Golden, degenerate-case and property tests for regime_trader.policy.metrics."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regime_trader.policy.metrics import (
    METRIC_KEYS,
    TRADE_COLUMNS,
    bars_per_year,
    compute_metrics,
    drawdown,
    equity_curve,
    per_regime_returns,
    trade_table,
)

BPY = 252.0


# --------------------------------------------------------------------------- golden values


def test_golden_three_steps() -> None:
    r = np.array([0.1, -0.05, 0.02])
    p = np.array([1.0, 1.0, 0.0])
    m = compute_metrics(r, p, bars_per_year=BPY)

    growth = 1.1 * 0.95 * 1.02  # 1.0659
    mean = (0.1 - 0.05 + 0.02) / 3
    var = ((0.1 - mean) ** 2 + (-0.05 - mean) ** 2 + (0.02 - mean) ** 2) / 2
    downside = math.sqrt((0.0 + 0.05**2 + 0.0) / 3)
    cagr = growth ** (252 / 3) - 1
    mdd = 1 - 1.045 / 1.1  # peak 1.1 after step 0, trough 1.045 after step 1

    assert m["total_return"] == pytest.approx(0.0659, rel=1e-12)
    assert m["cagr"] == pytest.approx(cagr, rel=1e-9)
    assert m["sharpe"] == pytest.approx(mean / math.sqrt(var) * math.sqrt(252), rel=1e-12)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(252), rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(0.05, rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(mdd, rel=1e-12)
    assert m["max_drawdown"] > 0
    assert m["calmar"] == pytest.approx(cagr / 0.05, rel=1e-9)
    assert m["num_trades"] == 1
    assert m["win_rate"] == pytest.approx(1.0)  # 1.1 * 0.95 - 1 = 0.045 > 0
    assert m["exposure"] == pytest.approx(2 / 3)
    assert m["turnover"] == pytest.approx(2 / 3 * 252)  # 0->1 and 1->0 over 3 steps


def test_keys_types_and_json_safety() -> None:
    m = compute_metrics(np.array([0.1, -0.05, 0.02]), np.array([1.0, 1.0, 0.0]), bars_per_year=BPY)
    assert tuple(m) == METRIC_KEYS
    assert isinstance(m["num_trades"], int)
    assert all(type(v) is float for k, v in m.items() if k != "num_trades")
    json.dumps(m, allow_nan=False)


def test_trade_counting_with_flip_and_open_trade() -> None:
    r = np.array([0.0, 0.02, -0.01, 0.03, 0.01, 0.0, -0.02])
    p = np.array([0.0, 1.0, 1.0, -1.0, -1.0, 0.0, 1.0])
    m = compute_metrics(r, p, bars_per_year=BPY)
    # trades: long steps 1-2 (+0.98%), short steps 3-4 (+4.03%), long step 6 still open (-2%)
    assert m["num_trades"] == 3
    assert m["win_rate"] == pytest.approx(2 / 3)
    assert m["exposure"] == pytest.approx(5 / 7)
    # |0-0| + |1-0| + 0 + |-1-1| + 0 + |0+1| + |1-0| = 5
    assert m["turnover"] == pytest.approx(5 / 7 * 252)


def test_turnover_uses_prev_position() -> None:
    r = np.array([0.01, 0.01, 0.01])
    p = np.array([1.0, 1.0, 0.0])
    assert compute_metrics(r, p, bars_per_year=BPY, prev_position=1.0)["turnover"] == (
        pytest.approx(1 / 3 * 252)
    )
    assert compute_metrics(r, p, bars_per_year=BPY, prev_position=-1.0)["turnover"] == (
        pytest.approx(3 / 3 * 252)
    )


def test_fractional_positions_count_trades_by_sign() -> None:
    """Resizing a held side (0.5 -> 0.75 long) is one trade; a flip through zero is two."""
    r = np.array([0.01, 0.02, -0.01, 0.0, 0.03, -0.01])
    p = np.array([0.5, 0.75, 0.75, 0.0, -0.25, 0.4])
    m = compute_metrics(r, p, bars_per_year=BPY)
    assert m["num_trades"] == 3  # long 0-2, short 4, long 5 (still open)
    assert m["win_rate"] == pytest.approx(2 / 3)  # long +1.99% and short +3% win, last -1%
    assert m["exposure"] == pytest.approx(5 / 6)  # steps with non-zero notional
    # traded notional: 0.5 + 0.25 + 0 + 0.75 + 0.25 + 0.65 = 2.4
    assert m["turnover"] == pytest.approx(2.4 / 6 * 252)
    idx = pd.date_range("2024-01-01", periods=6, freq="D")
    t = trade_table(idx, r, p)
    assert list(t["side"]) == ["long", "short", "long"]
    assert list(t["bars"]) == [3, 1, 1]
    np.testing.assert_allclose(t["return"], [1.01 * 1.02 * 0.99 - 1, 0.03, -0.01])


def test_trade_table_with_fill_prices() -> None:
    idx = pd.date_range("2024-01-01", periods=7, freq="h", tz="UTC")
    r = np.array([0.0, 0.02, -0.01, 0.03, 0.01, 0.0, -0.02])
    p = np.array([0.0, 1.0, 1.0, -1.0, -1.0, 0.0, 1.0])
    fills = np.arange(100.0, 107.0)
    fill_times = idx + pd.Timedelta(minutes=1)  # each decision fills a minute later
    t = trade_table(idx, r, p, fill_prices=fills, fill_times=fill_times)
    assert list(t.columns) == list(TRADE_COLUMNS)
    assert list(t["entry_decision_time"]) == [idx[1], idx[3], idx[6]]
    assert list(t["entry_time"]) == [fill_times[1], fill_times[3], fill_times[6]]
    # closed by the decision of the first step without the side; the last is still open
    assert list(t["exit_decision_time"][:2]) == [idx[3], idx[5]]
    assert list(t["exit_time"][:2]) == [fill_times[3], fill_times[5]]
    assert t[["exit_decision_time", "exit_time"]].iloc[2].isna().all()
    assert list(t["side"]) == ["long", "short", "long"]
    assert list(t["bars"]) == [2, 2, 1]
    np.testing.assert_allclose(t["return"], [1.02 * 0.99 - 1, 1.03 * 1.01 - 1, -0.02])
    np.testing.assert_array_equal(t["entry_price"], [101.0, 103.0, 106.0])
    np.testing.assert_array_equal(t["exit_price"], [103.0, 105.0, np.nan])


def test_trade_table_without_prices_and_without_trades() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    t = trade_table(idx, np.full(4, 0.01), np.array([1.0, 1.0, 1.0, 1.0]))
    assert len(t) == 1 and t["bars"].iloc[0] == 4
    assert t["return"].iloc[0] == pytest.approx(1.01**4 - 1)
    assert t[["entry_price", "exit_price"]].isna().all().all()
    empty = trade_table(idx, np.full(4, 0.01), np.zeros(4))
    assert len(empty) == 0 and "entry_time" in empty.columns


# --------------------------------------------------------------------------- degenerate cases


def _assert_finite(m: dict[str, float]) -> None:
    assert all(math.isfinite(v) for v in m.values()), m


def test_all_zero_returns_no_trades() -> None:
    m = compute_metrics(np.zeros(50), np.zeros(50), bars_per_year=BPY)
    _assert_finite(m)
    assert m == {k: 0.0 for k in METRIC_KEYS}
    assert m["num_trades"] == 0


def test_constant_positive_returns_no_downside() -> None:
    m = compute_metrics(np.full(10, 0.01), np.ones(10), bars_per_year=BPY)
    _assert_finite(m)
    assert m["sharpe"] == 0.0  # zero std
    assert m["sortino"] == 0.0  # no downside
    assert m["max_drawdown"] == 0.0
    assert m["calmar"] == 0.0
    assert m["win_rate"] == 1.0 and m["num_trades"] == 1


def test_total_loss_and_tiny_inputs() -> None:
    m = compute_metrics(np.array([-1.0, 0.5]), np.array([1.0, 1.0]), bars_per_year=BPY)
    _assert_finite(m)
    assert m["total_return"] == -1.0 and m["cagr"] == -1.0 and m["max_drawdown"] == 1.0
    one = compute_metrics(np.array([0.03]), np.array([1.0]), bars_per_year=BPY)
    _assert_finite(one)
    assert one["sharpe"] == 0.0
    assert one["cagr"] == pytest.approx(1.03**252 - 1, rel=1e-9)  # ~1716.8
    empty = compute_metrics(np.zeros(0), np.zeros(0), bars_per_year=BPY)
    assert empty == {k: 0.0 for k in METRIC_KEYS}


def test_overflowing_cagr_is_finite() -> None:
    m = compute_metrics(np.array([1.0, 1.0]), np.ones(2), bars_per_year=525_960.0)
    _assert_finite(m)
    json.dumps(m, allow_nan=False)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="same length"):
        compute_metrics(np.zeros(3), np.zeros(2), bars_per_year=BPY)
    with pytest.raises(ValueError, match="NaN"):
        compute_metrics(np.array([0.0, np.nan]), np.zeros(2), bars_per_year=BPY)
    with pytest.raises(ValueError, match="bars_per_year"):
        compute_metrics(np.zeros(2), np.zeros(2), bars_per_year=0.0)


# --------------------------------------------------------------------------- helpers


def test_max_drawdown_counts_starting_equity_as_peak() -> None:
    m = compute_metrics(np.array([-0.1, 0.05]), np.ones(2), bars_per_year=BPY)
    assert m["max_drawdown"] == pytest.approx(0.1)  # 1 -> 0.9 -> 0.945


def test_drawdown_positive_fractions() -> None:
    np.testing.assert_allclose(drawdown(np.array([1.0, 2.0, 1.0, 3.0, 1.5])), [0, 0, 0.5, 0, 0.5])


def test_per_regime_returns() -> None:
    r = np.array([0.1, 0.2, -0.1, 0.05, 0.3])
    regimes = np.array([0, 0, 1, -1, 3])
    out = per_regime_returns(r, regimes)
    assert list(out) == ["uptrend", "downtrend", "plateau", "oscillating"]
    assert out["uptrend"] == pytest.approx(1.1 * 1.2 - 1)
    assert out["downtrend"] == pytest.approx(-0.1)
    assert out["plateau"] == 0.0  # never visited
    assert out["oscillating"] == pytest.approx(0.3)  # the -1 (unknown) step is ignored


def test_bars_per_year_daily_business_days() -> None:
    idx = pd.bdate_range("2015-01-01", "2022-12-31")
    assert 255 < bars_per_year(idx) < 265  # ~260.9 business days a year


def test_bars_per_year_minutes() -> None:
    idx = pd.date_range("2024-01-01", periods=10_000, freq="min", tz="UTC")
    assert bars_per_year(idx) == pytest.approx(365.25 * 24 * 60, rel=1e-9)  # 525,960


def test_bars_per_year_errors() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        bars_per_year(pd.DatetimeIndex(["2024-01-01"]))
    with pytest.raises(ValueError, match="span no time"):
        bars_per_year(pd.DatetimeIndex(["2024-01-01", "2024-01-01"]))


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.floats(min_value=-0.999, max_value=2.0, allow_nan=False),
            st.sampled_from([-1.0, 0.0, 1.0]),
        ),
        min_size=1,
        max_size=200,
    )
)
@pytest.mark.slow  # ~2 s on two busy cores
def test_property_total_return_and_drawdown_bounds(data: list[tuple[float, float]]) -> None:
    r = np.array([d[0] for d in data])
    p = np.array([d[1] for d in data])
    m = compute_metrics(r, p, bars_per_year=BPY)
    eq = equity_curve(r)
    assert m["total_return"] == pytest.approx(eq[-1] - 1.0, rel=1e-12, abs=1e-12)
    assert 0.0 <= m["max_drawdown"] <= 1.0
    assert 0.0 <= m["win_rate"] <= 1.0 and 0.0 <= m["exposure"] <= 1.0
    _assert_finite(m)
    # independent trade count: non-flat groups of equal consecutive positions
    expected = sum(1 for pos, _ in itertools.groupby(p.tolist()) if pos != 0.0)
    assert m["num_trades"] == expected
    idx = pd.date_range("2024-01-01", periods=len(r), freq="D")
    assert len(trade_table(idx, r, p)) == expected
