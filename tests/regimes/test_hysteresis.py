"""Causal minimum-duration filter on regime labels: known case, causality, longer runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from _causality import perturb_after
from regime_trader.config import RegimeConfig
from regime_trader.regimes import (
    SHORT_HORIZON,
    apply_min_duration,
    classify_regimes,
    label_quality,
    mean_run_length,
)

SPX = Path("/work/shared/data/daily/SPX_1d_yahoo_1999-2018.csv.gz")


def walk(seed: int = 0, n: int = 900) -> pd.DataFrame:
    """Geometric random walk with consistent OHLC bars."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    idx = pd.date_range("2001-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": 1.0,
        },
        index=idx,
    )


def test_known_sequence() -> None:
    raw = np.array([-1, -1, 0, 0, 1, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, -1, 2, 2], dtype=np.int8)
    want = np.array([-1, -1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 3, -1, 2, 2], dtype=np.int8)
    np.testing.assert_array_equal(apply_min_duration(raw, 3), want)
    np.testing.assert_array_equal(apply_min_duration(raw, 1), raw)
    assert apply_min_duration(raw, 3).dtype == np.int8
    with pytest.raises(ValueError, match=">= 1 bar"):
        apply_min_duration(raw, 0)


def test_switches_only_to_labels_that_held() -> None:
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 4, 3000).astype(np.int8)
    raw = np.repeat(raw, rng.integers(1, 8, raw.size))[:3000]
    k = 4
    out = apply_min_duration(raw, k)
    changes = np.flatnonzero(out[1:] != out[:-1]) + 1
    assert changes.size > 0
    for t in changes:
        assert (raw[t - k + 1 : t + 1] == out[t]).all()
    assert mean_run_length(out) > mean_run_length(raw)


def test_apply_min_duration_is_causal() -> None:
    rng = np.random.default_rng(2)
    raw = np.repeat(rng.integers(0, 4, 600), rng.integers(1, 6, 600))[:1500].astype(np.int8)
    out = apply_min_duration(raw, 5)
    for t in (100, 700, 1400):
        changed = raw.copy()
        changed[t + 1 :] = rng.integers(0, 4, raw.size - t - 1)
        np.testing.assert_array_equal(apply_min_duration(changed, 5)[: t + 1], out[: t + 1])


@pytest.mark.parametrize("t", [400, 650])
def test_classify_with_min_duration_is_causal(t: int) -> None:
    cfg = RegimeConfig(min_duration=5)
    df = walk()
    base = classify_regimes(df, cfg)
    moved = classify_regimes(perturb_after(df, t, 1.3, seed=t), cfg)
    np.testing.assert_array_equal(moved[: t + 1], base[: t + 1])


def test_default_is_on_and_config_validates() -> None:
    df = walk(3)
    assert RegimeConfig().min_duration == 5 and SHORT_HORIZON.min_duration == 1
    raw = classify_regimes(df, RegimeConfig(min_duration=1))
    np.testing.assert_array_equal(classify_regimes(df, RegimeConfig()), apply_min_duration(raw, 5))
    with pytest.raises(ValidationError):
        RegimeConfig(min_duration=0)


def test_label_quality_reports_runs_and_agreement() -> None:
    lab = np.array([-1, 0, 0, 1, 1, 1, 2])
    q = label_quality(lab, np.array([0, 0, 1, 1, 1, 1, 2]))
    assert q["mean_run_length"] == pytest.approx(2.0)
    assert q["scored"] == 6 and q["agreement"] == pytest.approx(5 / 6)
    assert q["switches_per_100"] == pytest.approx(100 * 2 / 6)
    with pytest.raises(ValueError, match="shape"):
        label_quality(lab, lab[:-1])


@pytest.mark.skipif(not SPX.exists(), reason="shared SPX daily bars absent")
def test_min_duration_lengthens_runs_on_daily_index() -> None:
    from regime_trader.data import load_ohlcv

    df = load_ohlcv(SPX)

    def run(k: int) -> float:
        cfg = SHORT_HORIZON.model_copy(update={"min_duration": k})
        return float(label_quality(classify_regimes(df, cfg))["mean_run_length"])

    raw, five, ten = run(1), run(5), run(10)
    assert raw < 12.0  # the "changes every ~9 bars"
    assert five > 1.4 * raw and ten > 2.5 * raw
