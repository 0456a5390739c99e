"""Tests for the self-contained HTML report."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from regime_trader.evaluation.report import (
    METRIC_LABELS,
    capture_avoidance,
    format_metric,
    metrics_table_html,
    per_regime_table_html,
    write_report,
)
from regime_trader.evaluation.report_plots import set_equity_ticks
from regime_trader.policy.metrics import (
    METRIC_KEYS,
    compute_metrics,
    per_regime_returns,
    trade_table,
)

IMG_TAG = '<img alt="'
DATA_URI = 'src="data:image/png;base64,'


def _synthetic(n: int = 300, tz: str | None = "UTC") -> dict[str, object]:
    rng = np.random.default_rng(0)
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz=tz)
    close = pd.Series(100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), index=idx)
    regimes = pd.Series(np.repeat(rng.integers(-1, 4, n // 20 + 1), 20)[:n], index=idx)
    positions = np.repeat(rng.choice([-1.0, 0.0, 1.0], n // 10 + 1), 10)[:n]
    bar_ret = np.r_[close.pct_change().to_numpy()[1:], 0.0]  # step i: close[i] -> close[i+1]
    returns = positions * bar_ret
    equity = pd.DataFrame(
        {"dqn": np.cumprod(1 + returns), "buy & hold": np.cumprod(1 + bar_ret)}, index=idx
    )
    metrics = {
        "dqn": compute_metrics(returns, positions, bars_per_year=24 * 365.25),
        "buy & hold": compute_metrics(bar_ret, np.ones(n), bars_per_year=24 * 365.25),
    }
    trades = trade_table(idx, returns, positions, fill_prices=close.to_numpy())
    return {
        "metrics": metrics,
        "equity": equity,
        "close": close,
        "regimes": regimes,
        "trades": trades,
    }


def test_write_report_self_contained(tmp_path: Path) -> None:
    parts = _synthetic()
    out = tmp_path / "sub" / "report.html"
    written = write_report(out, title="Backtest <AAPL> & co", notes=["fees 1 bp < 2 bp"], **parts)
    assert written == out and out.is_file()
    text = out.read_text(encoding="utf-8")
    assert "Backtest &lt;AAPL&gt; &amp; co" in text and "<AAPL>" not in text
    assert "fees 1 bp &lt; 2 bp" in text
    assert '<table class="metrics">' in text
    assert all(f'<th title="{k}">{METRIC_LABELS[k]}</th>' in text for k in METRIC_KEYS)
    assert ">total_return<" not in text and "Max drawdown" in text
    assert "buy &amp; hold" in text and ">dqn<" in text
    assert text.count(DATA_URI) == 3 and text.count(IMG_TAG) == 3
    assert 'src="http' not in text and "<script" not in text
    for payload in re.findall(r'base64,([A-Za-z0-9+/=]+)"', text):
        assert base64.b64decode(payload).startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temp files left


@pytest.mark.slow  # ~2 s on two busy cores
def test_write_report_nan_prices_naive_index_no_trades(tmp_path: Path) -> None:
    parts = _synthetic(tz=None)
    trades = parts["trades"].copy()
    trades[["entry_price", "exit_price"]] = np.nan  # fall back to close
    path = write_report(tmp_path / "a.html", title="t", **{**parts, "trades": trades})
    assert path.read_text(encoding="utf-8").count(DATA_URI) == 3
    no_trades = trades.iloc[0:0]
    path = write_report(tmp_path / "b.html", title="t", **{**parts, "trades": no_trades})
    assert path.read_text(encoding="utf-8").count(DATA_URI) == 3


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("total_return", 0.1234, "12.34%"),
        ("max_drawdown", 0.05, "5.00%"),
        ("sharpe", 1.23456, "1.23"),
        ("num_trades", 7, "7"),
        ("calmar", float("nan"), "n/a"),
    ],
)
def test_format_metric(key: str, value: float, expected: str) -> None:
    assert format_metric(key, value) == expected


def test_metrics_table_rows_and_missing_values() -> None:
    table = metrics_table_html({"a": {"sharpe": 1.0}, "b": {}})
    assert table.count("<tr>") == 3
    assert "1.00" in table and "n/a" in table


def test_report_per_regime_table_and_accuracy(tmp_path: Path) -> None:
    parts = _synthetic()
    codes = parts["regimes"].to_numpy()  # type: ignore[union-attr]
    rets = parts["equity"].pct_change().fillna(0.0)  # type: ignore[union-attr]
    per_regime = {
        "dqn": per_regime_returns(rets["dqn"].to_numpy(), codes),
        "buy_and_hold": per_regime_returns(rets["buy & hold"].to_numpy(), codes),
    }
    path = write_report(
        tmp_path / "r.html", title="t", per_regime=per_regime, regime_accuracy=0.625, **parts
    )
    text = path.read_text(encoding="utf-8")
    assert "Results by regime" in text and "Return in uptrend" in text
    assert "Uptrend capture" in text and "Downtrend avoidance" in text
    assert "<b>62.5%</b>" in text
    assert 'name="viewport"' in text and "max-width: 1200px" in text


def test_capture_avoidance_against_buy_and_hold() -> None:
    per_regime = {
        "agent": {"uptrend": 0.09, "downtrend": -0.05},
        "buy_and_hold": {"uptrend": 0.10, "downtrend": -0.20},
        "flat": {"uptrend": 0.0, "downtrend": 0.0},
    }
    ratios = capture_avoidance(per_regime)
    assert ratios["agent"] == pytest.approx({"capture": 0.9, "avoidance": 0.75})
    assert ratios["buy_and_hold"] == pytest.approx({"capture": 1.0, "avoidance": 0.0})
    assert ratios["flat"] == pytest.approx({"capture": 0.0, "avoidance": 1.0})
    falling = {
        "a": {"uptrend": 0.1, "downtrend": 0.1},
        "buy_and_hold": {"uptrend": -0.1, "downtrend": 0.1},
    }
    assert all(np.isnan(v) for v in capture_avoidance(falling)["a"].values())
    assert capture_avoidance({"a": {"uptrend": 0.1}}) == {}
    table = per_regime_table_html(per_regime)
    assert "90.00%" in table and "75.00%" in table


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.9, 1.6, ["0.9", "1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]),
        (0.95, 1.3, None),  # plain decimals, no "x10^" and at least 4 labels
        (0.5, 40.0, ["0.5", "1", "2", "5", "10", "20"]),
    ],
)
def test_equity_ticks_are_plain_numbers(
    low: float, high: float, expected: list[str] | None
) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [low, high])
    ax.set_yscale("log")
    set_equity_ticks(ax, low, high)
    fig.canvas.draw()
    lo, hi = ax.get_ylim()
    labels = [t.get_text() for t in ax.get_yticklabels() if lo <= t.get_position()[1] <= hi]
    assert all(re.fullmatch(r"\d+(\.\d+)?", s) for s in labels), labels
    assert len(labels) >= 4
    if expected is not None:
        assert [s for s in expected if s in labels] == expected
