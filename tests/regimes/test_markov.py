"""Filtered Markov-switching detector: causal filter, independent Hamilton recursion, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from _causality import perturb_after
from regime_trader.errors import DataError
from regime_trader.regimes import DOWNTREND, REGIME_NAMES, UPTREND, label_quality
from regime_trader.regimes.markov import fit_markov_detector, markov_input
from regime_trader.scenarios import generate

N_TRAIN = 1500


@pytest.fixture(scope="module")
def scenario() -> pd.DataFrame:
    return generate("switching", 2500, rng=np.random.default_rng(0))


@pytest.fixture(scope="module")
def detector(scenario):
    # maxiter=30 keeps the fit ~3 s; the labels match the fully converged fit's (0.79 vs 0.79).
    return fit_markov_detector(scenario.iloc[:N_TRAIN], k_regimes=3, window=10, maxiter=30)


@pytest.mark.slow  # the shared Markov fit takes ~3 s on two busy cores
def test_fit_names_states_by_parameters(detector) -> None:
    assert isinstance(detector.converged, bool) and detector.train_bars == N_TRAIN - 10
    assert sorted(detector.state_labels) == [0, 1, 2]  # uptrend, downtrend, plateau
    means = dict(zip(detector.state_labels, detector.means, strict=True))
    assert means[UPTREND] > 0.1 > -0.1 > means[DOWNTREND]


@pytest.mark.slow  # the shared Markov fit takes ~3 s on two busy cores
def test_filter_is_causal(scenario, detector) -> None:
    base = detector.state_probabilities(scenario)
    assert np.isnan(base[:10]).all() and np.isfinite(base[10:]).all()
    np.testing.assert_allclose(base[10:].sum(axis=1), 1.0)
    for t in (1700, 2200):
        moved = detector.state_probabilities(perturb_after(scenario, t, 0.8, seed=t))
        np.testing.assert_array_equal(moved[: t + 1], base[: t + 1])
        assert not np.allclose(moved[t + 1 :], base[t + 1 :])
    lab = detector.labels(scenario, min_duration=3)
    moved = detector.labels(perturb_after(scenario, 2000, 0.8, seed=1), min_duration=3)
    np.testing.assert_array_equal(moved[:2001], lab[:2001])


@pytest.mark.slow  # the shared Markov fit takes ~3 s on two busy cores
def test_filter_equals_independent_hamilton_recursion(scenario, detector) -> None:
    """Forward recursion in numpy with the fitted parameters: filtered, not smoothed."""
    k = detector.k_regimes
    y = markov_input(scenario, detector.window)[detector.window :]
    p = np.asarray(detector.params)
    trans = np.empty((k, k))  # trans[i, j] = P(s_t = i | s_{t-1} = j), statsmodels' layout
    trans[: k - 1] = p[: k * (k - 1)].reshape(k - 1, k)  # params p[j->i], row i by row i
    trans[k - 1] = 1.0 - trans[: k - 1].sum(axis=0)
    evals, evecs = np.linalg.eig(trans)
    pi = np.real(evecs[:, np.argmin(np.abs(evals - 1.0))])
    filt = pi / pi.sum()
    dens = sps.norm.pdf(
        y[:, None], np.asarray(detector.means), np.sqrt(np.asarray(detector.variances))
    )
    out = np.empty((y.size, k))
    for t in range(y.size):
        joint = (trans @ filt) * dens[t]
        filt = joint / joint.sum()
        out[t] = filt
    np.testing.assert_allclose(detector.state_probabilities(scenario)[10:], out, atol=1e-6)


@pytest.mark.slow  # the shared Markov fit takes ~3 s on two busy cores
def test_regime_probabilities_and_agreement(scenario, detector) -> None:
    probs = detector.regime_probabilities(scenario)
    assert list(probs.columns) == list(REGIME_NAMES)
    np.testing.assert_allclose(probs.iloc[10:].sum(axis=1), 1.0)
    assert (probs["oscillating"].iloc[10:] == 0.0).all()  # no state stands for it
    truth = scenario["true_regime"].to_numpy()
    test = slice(N_TRAIN, None)
    lab = detector.labels(scenario)
    trend = np.isin(truth[test], [UPTREND, DOWNTREND])
    on_trend = np.mean(lab[test][trend] == truth[test][trend])
    quality = label_quality(lab[test], truth[test])
    assert on_trend > 0.75 and quality["agreement"] > 0.6
    assert quality["mean_run_length"] > 10.0


def test_bad_input() -> None:
    short = generate("uptrend", 100, rng=np.random.default_rng(1))
    with pytest.raises(DataError, match="at least 161 training bars, got 100"):
        fit_markov_detector(short, k_regimes=3)
    with pytest.raises(ValueError, match="k_regimes"):
        fit_markov_detector(short, k_regimes=5)
    with pytest.raises(DataError, match="close"):
        markov_input(short.drop(columns="close"), 10)


def test_an_extreme_bar_does_not_break_the_filter() -> None:
    """A -60% day is tens of sds from every fitted state: the filter stays finite after it
    (the observation is clipped at 25 sds of the widest state), and that state takes it."""
    bars = generate("switching", 900, rng=np.random.default_rng(3))
    det = fit_markov_detector(bars.iloc[:600], k_regimes=2, window=1, maxiter=30)
    crash = bars.copy()
    crash.iloc[700:, :4] *= 0.4
    p = det.state_probabilities(crash)
    assert np.isfinite(p[1:]).all()
    widest = int(np.argmax(det.variances))
    assert p[700, widest] > 0.99
