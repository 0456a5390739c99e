"""Strong rule baselines: causal (perturb the future), equal to pandas references, one
signature with the existing baselines, and the headline pick over tidy rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _causality import perturb_after
from regime_trader.envs.market import MarketData
from regime_trader.evaluation.baselines import BASELINES
from regime_trader.evaluation.strong_baselines import (
    STRONG_BASELINES,
    best_simple_rule,
    markov_switching,
    sma_200,
    sma_200_vol_target,
    strong_baseline_positions,
    tsmom_12m,
    vol_target,
)
from regime_trader.policy.metrics import bars_per_year
from regime_trader.regimes.markov import fit_markov_detector

N = 900
FIRST, LAST = 400, N - 3


def walk(seed: int, n: int = N) -> pd.DataFrame:
    """Regime-switching random walk (trends long enough for the rules to trade)."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.choice([-0.002, 0.0015], n // 100 + 1), 100)[:n]
    vol = np.repeat(rng.choice([0.007, 0.02], n // 150 + 1), 150)[:n]
    close = 100.0 * np.exp(np.cumsum(rng.normal(drift, vol)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    idx = pd.date_range("2004-01-05", periods=n, freq="B", tz="UTC")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close}, index=idx)


def market(df: pd.DataFrame) -> MarketData:
    return MarketData.build(np.zeros((len(df), 1)), df, np.zeros(len(df)), names=["x"])


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return walk(1)


@pytest.mark.parametrize("name", list(STRONG_BASELINES))
def test_same_signature_and_shape_as_existing_baselines(bars: pd.DataFrame, name: str) -> None:
    m = market(bars)
    pos = STRONG_BASELINES[name](m, FIRST, LAST)
    ref = BASELINES["buy_and_hold"](m, FIRST, LAST)
    assert pos.shape == ref.shape and pos.dtype == np.float64
    assert np.all(np.isfinite(pos)) and np.all(pos >= 0.0) and np.all(pos <= 1.0)
    assert np.count_nonzero(pos) > 0 and (name.startswith("vol") or np.any(pos == 0.0))


@pytest.mark.parametrize("name", list(STRONG_BASELINES))
@pytest.mark.parametrize("t", [FIRST, 520, 700, LAST - 1])
def test_positions_are_causal(bars: pd.DataFrame, name: str, t: int) -> None:
    fn = STRONG_BASELINES[name]
    base = fn(market(bars), FIRST, LAST)
    for factor in (0.6, 1.7):
        moved = fn(market(perturb_after(bars, t, factor, seed=t)), FIRST, LAST)
        np.testing.assert_array_equal(moved[: t - FIRST + 1], base[: t - FIRST + 1])


def test_markov_fallback_fit_is_causal_and_flat_before_its_sample() -> None:
    df = walk(2)
    first = 40  # fewer rows before the period than min_fit_bars: fits on rows [0, 250)
    base = markov_switching(market(df), first, LAST)
    assert not base[: 250 - 1 - first].any() and base.any()
    for t in (60, 248, 249, 400):
        moved = markov_switching(market(perturb_after(df, t, 1.5, seed=t)), first, LAST)
        np.testing.assert_array_equal(moved[: t - first + 1], base[: t - first + 1])


def test_perturbing_the_future_does_move_later_positions(bars: pd.DataFrame) -> None:
    """Guard against a vacuous causality test."""
    moved = strong_baseline_positions(market(perturb_after(bars, 500, 0.5, seed=0)), FIRST, LAST)
    base = strong_baseline_positions(market(bars), FIRST, LAST)
    assert all(not np.array_equal(moved[k][101:], base[k][101:]) for k in STRONG_BASELINES)


def test_vol_target_equals_pandas_rolling_std(bars: pd.DataFrame) -> None:
    m = market(bars)
    bpy = bars_per_year(m.index)
    logret = np.log(bars["close"]).diff()
    for window, lev in ((20, 1.0), (63, 2.0)):
        vol = logret.rolling(window).std(ddof=1).to_numpy() * np.sqrt(bpy)
        ref = np.minimum(lev, 0.10 / vol)[FIRST : LAST + 1]
        got = vol_target(m, FIRST, LAST, window=window, max_leverage=lev)
        np.testing.assert_allclose(got, ref, rtol=1e-8)
    assert vol_target(m, 0, 30)[:20].tolist() == [1.0] * 20  # warm-up: full size, no look-ahead


def test_sma_and_momentum_equal_pandas(bars: pd.DataFrame) -> None:
    m = market(bars)
    close = bars["close"]
    above = (close > close.rolling(200).mean()).to_numpy()[FIRST : LAST + 1]
    np.testing.assert_array_equal(sma_200(m, FIRST, LAST), above.astype(float))
    mom = (close.pct_change(252) > 0).to_numpy()[FIRST : LAST + 1]
    np.testing.assert_array_equal(tsmom_12m(m, FIRST, LAST), mom.astype(float))
    np.testing.assert_allclose(
        sma_200_vol_target(m, FIRST, LAST), above * vol_target(m, FIRST, LAST)
    )
    early = sma_200(m, 0, 250)
    assert not early[:199].any()  # flat until 200 closes exist


def test_markov_fits_before_first_and_filters_forward(bars: pd.DataFrame) -> None:
    m = market(bars)
    frame = pd.DataFrame({"close": m.close}, index=m.index)
    det = fit_markov_detector(frame.iloc[:FIRST], k_regimes=2, window=1)
    p = det.regime_probabilities(frame.iloc[: LAST + 1])["uptrend"].to_numpy()
    np.testing.assert_array_equal(
        markov_switching(m, FIRST, LAST), (p[FIRST : LAST + 1] > 0.5).astype(float)
    )
    assert not markov_switching(market(bars.iloc[:120]), 10, 117).any()  # too short: flat


def test_bad_range_is_refused(bars: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="first=10, last=5"):
        sma_200(market(bars), 10, 5)


def rows(means: dict[str, float]) -> pd.DataFrame:
    recs = []
    for policy, mean in means.items():
        for series in ("x", "y"):
            for window in (0, 1):
                for seed in (0, 1, 2):
                    for regime, shift in (("all", 0.0), ("uptrend", 5.0)):
                        recs.append({"series": series, "window": window, "seed": seed,
                                     "policy": policy, "regime": regime,
                                     "sharpe": mean + shift + 0.1 * window})  # fmt: skip
    return pd.DataFrame(recs)


def test_best_simple_rule_picks_the_best_strong_rule() -> None:
    frame = rows({"buy_and_hold": 3.0, "sma_200": 0.4, "tsmom_12m": 0.9, "vol_target": 0.7,
                  "calibrated": 2.0})  # fmt: skip
    assert best_simple_rule(frame) == "tsmom_12m"  # not buy-and-hold or an agent
    tie = rows({"vol_target": 0.5, "sma_200": 0.5})
    assert best_simple_rule(tie) == "sma_200"  # registry order breaks ties
    with pytest.raises(ValueError, match="no rows for any strong rule"):
        best_simple_rule(rows({"buy_and_hold": 1.0}))
    with pytest.raises(ValueError, match="lack column"):
        best_simple_rule(pd.DataFrame({"policy": ["sma_200"]}))
