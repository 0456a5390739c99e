"""Scenario generators: determinism, valid bars, honest labels, switching, detector agreement."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from regime_trader.data import validate_ohlcv
from regime_trader.data.validation import OHLCV_COLUMNS
from regime_trader.regimes import regime_lookback
from regime_trader.scenarios import SCENARIO_KINDS, ScenarioParams, default_params, generate
from regime_trader.scenarios.agreement import agreement, agreement_markdown, agreement_table
from regime_trader.scenarios.generators import markov_regimes, transition_matrix

SINGLE = SCENARIO_KINDS[:4]


def make(kind: str, n: int = 400, seed: int = 0, **kw: object) -> pd.DataFrame:
    """A generated frame from a fresh seeded Generator."""
    return generate(kind, n, rng=np.random.default_rng(seed), **kw)  # type: ignore[arg-type]


def test_kinds_constant() -> None:
    assert SCENARIO_KINDS == ("uptrend", "downtrend", "plateau", "oscillating", "switching")


@pytest.mark.parametrize("kind", SCENARIO_KINDS)
def test_same_seed_same_frame_other_seed_differs(kind: str) -> None:
    pd.testing.assert_frame_equal(make(kind, seed=3), make(kind, seed=3))
    assert not np.allclose(make(kind, seed=3)["close"], make(kind, seed=4)["close"])


@pytest.mark.parametrize("kind", SCENARIO_KINDS)
def test_frame_meets_ohlcv_contract(kind: str) -> None:
    df = make(kind, 600)
    assert list(df.columns) == [*OHLCV_COLUMNS, "true_regime"]
    assert all(df[c].dtype == np.float64 for c in OHLCV_COLUMNS)
    assert df["true_regime"].dtype == np.int8
    assert isinstance(df.index, pd.DatetimeIndex) and str(df.index.tz) == "UTC"
    assert df.index.name == "timestamp" and df.index.is_unique and df.index.is_monotonic_increasing
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta("1D")).all()
    o, h, lo, c, v = (df[col].to_numpy() for col in OHLCV_COLUMNS)
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    assert (lo > 0).all() and (v > 0).all() and np.isfinite(v).all()
    pd.testing.assert_frame_equal(validate_ohlcv(df, source=kind), df[list(OHLCV_COLUMNS)])
    assert set(np.unique(df["true_regime"])) <= {0, 1, 2, 3}


@pytest.mark.parametrize("kind", SINGLE)
def test_single_kind_labels_every_bar_with_its_regime(kind: str) -> None:
    assert (make(kind)["true_regime"] == SINGLE.index(kind)).all()


def test_global_numpy_random_state_untouched() -> None:
    np.random.seed(123)  # noqa: NPY002 -- the legacy global state must stay untouched
    for kind in SCENARIO_KINDS:
        make(kind, 100)
    after = np.random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    assert after == np.random.random()  # noqa: NPY002


def test_params_drive_the_path_exactly() -> None:
    p = ScenarioParams(drift=0.01, volatility=0.0, gap=0.0, wick=0.0, start_price=50.0)
    df = generate("uptrend", 30, rng=np.random.default_rng(0), params=p)
    expected = 50.0 * np.exp(0.01 * np.arange(1, 31))
    np.testing.assert_allclose(df["close"], expected, rtol=1e-12)
    np.testing.assert_allclose(df["open"].to_numpy()[1:], expected[:-1], rtol=1e-12)
    assert df["open"].iloc[0] == pytest.approx(50.0)


def test_start_and_freq() -> None:
    p = dataclasses.replace(default_params("plateau"), start="2021-03-01 09:00", freq="1h")
    df = generate("plateau", 48, rng=np.random.default_rng(0), params=p)
    assert df.index[0] == pd.Timestamp("2021-03-01 09:00", tz="UTC")
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta("1h")).all()


@pytest.mark.parametrize("kind", ["plateau", "oscillating"])
def test_volatility_envelope_stays_bounded_on_long_series(kind: str) -> None:
    df = make(kind, 20_000)
    validate_ohlcv(df)
    p = default_params(kind)
    max_dev = 6 * p.noise + p.amplitude
    assert np.abs(np.log(df["close"] / 100.0)).max() < max_dev


def test_switching_has_several_regimes_and_continuous_prices() -> None:
    df = make("switching", 1500, seed=0)
    truth = df["true_regime"].to_numpy()
    joins = np.flatnonzero(np.diff(truth)) + 1
    assert len(np.unique(truth)) == 4 and len(joins) >= 10
    log_close = np.log(df["close"].to_numpy())
    jumps = np.abs(np.diff(log_close))[joins - 1]
    assert jumps.max() < 0.03  # a typical bar; an unchained level change would be far larger
    gaps = np.abs(np.log(df["open"].to_numpy()[1:] / df["close"].to_numpy()[:-1]))
    assert gaps.max() < 0.01


def test_switching_durations_follow_mean_duration() -> None:
    p = ScenarioParams(mean_duration=40.0)
    path = markov_regimes(40_000, rng=np.random.default_rng(1), params=p)
    runs = 1 + np.count_nonzero(np.diff(path))
    assert 40_000 / runs == pytest.approx(40.0, rel=0.15)
    np.testing.assert_allclose(transition_matrix(p).sum(axis=1), 1.0)
    assert np.bincount(path, minlength=4).min() > 0.15 * 40_000


def test_switching_explicit_transition_matrix() -> None:
    stay = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    df = make("switching", 300, params=ScenarioParams(transition=stay))
    assert df["true_regime"].nunique() == 1
    cycle = ((0.9, 0.1, 0.0, 0.0), (0.0, 0.9, 0.1, 0.0), (0.0, 0.0, 0.9, 0.1), (0.1, 0.0, 0.0, 0.9))
    truth = make("switching", 2000, params=ScenarioParams(transition=cycle))["true_regime"]
    steps = np.diff(truth.to_numpy().astype(int))
    assert set(np.unique(steps[steps != 0] % 4)) == {1}


@pytest.mark.parametrize(
    "bad",
    [
        {"volatility": -0.1},
        {"period": 0.0},
        {"start_price": 0.0},
        {"mean_duration": 0.5},
        {"transition": ((0.5, 0.5),)},
        {"regimes": (ScenarioParams(),)},
    ],
)
def test_bad_params_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="ScenarioParams"):
        ScenarioParams(**bad)  # type: ignore[arg-type]


def test_bad_kind_and_length_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario kind"):
        make("crash")
    with pytest.raises(ValueError, match="n_bars"):
        make("uptrend", 0)


@pytest.mark.parametrize("kind", SINGLE)
def test_detector_recovers_single_regimes(kind: str) -> None:
    share, scored = agreement(kind, seed=0, n_bars=1500)
    assert scored >= 1500 - regime_lookback() - 5
    assert share >= 0.8, f"{kind}: agreement {share:.3f}"


def test_detector_agreement_on_switching() -> None:
    # Measured 0.773 for seed 0 (0.74 to 0.89 over seeds 0..29, mean 0.83): the detector needs
    # a 20-bar window to see a switch and a 250-bar history to rank volatility.
    share, _ = agreement("switching", seed=0, n_bars=1500)
    assert share >= 0.7


def test_agreement_table_and_markdown() -> None:
    table = agreement_table(seed=0, n_bars=400)
    assert list(table) == list(SCENARIO_KINDS)
    out = agreement_markdown((0,), 400)
    assert out.startswith("| kind | seed 0 | mean |") and "| switching |" in out
