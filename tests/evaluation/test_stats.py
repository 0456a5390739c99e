"""Significance statistics on known cases: self vs self, planted edges, published figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from regime_trader.evaluation.stats import (
    annualised_sharpe,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    holm_correction,
    iqm,
    iqm_ci,
    paired_columns,
    paired_permutation_test,
    probabilistic_sharpe_ratio,
    probability_of_improvement,
    psr_from_moments,
    sharpe_difference_ci,
    stratified_bootstrap_ci,
)
from regime_trader.policy.metrics import compute_metrics


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """Unit-variance AR(1) noise (serially dependent, so blocks matter)."""
    e = rng.normal(0.0, np.sqrt(1.0 - phi**2), n)
    z = np.empty(n)
    z[0] = rng.normal()
    for t in range(1, n):
        z[t] = phi * z[t - 1] + e[t]
    return z


# --- Sharpe and its paired bootstrap ------------------------------------------------------


def test_annualised_sharpe_matches_metrics_and_vectorises() -> None:
    r = np.random.default_rng(0).normal(0.0005, 0.01, 500)
    ones = np.ones_like(r)
    sr = compute_metrics(r, ones, bars_per_year=252.0)["sharpe"]
    assert annualised_sharpe(r) == pytest.approx(sr, rel=1e-9)
    both = annualised_sharpe(np.stack([r, 2 * r]), axis=1)
    np.testing.assert_allclose(both, [sr, sr])
    assert annualised_sharpe(np.zeros(10)) == 0.0


def test_policy_against_itself_is_not_significant() -> None:
    rng = np.random.default_rng(1)
    a = 0.0004 + 0.01 * ar1(rng, 1000, 0.2)
    same = sharpe_difference_ci(a, a, n_boot=300, seed=0)
    assert same.diff == 0.0 and same.low == 0.0 and same.high == 0.0 and same.p_value == 1.0
    # The same policy run twice with zero-mean execution noise: no edge found.
    b = a + 0.002 * rng.normal(size=1000)
    ci = sharpe_difference_ci(a, b, n_boot=500, seed=0)
    assert ci.low < 0.0 < ci.high and ci.p_value > 0.05
    # Independent draws of one return law: the 5% test rejects rarely (false-positive rate).
    rejected = 0
    for rep in range(20):
        x, y = (0.0004 + 0.01 * ar1(rng, 500, 0.2) for _ in range(2))
        rejected += sharpe_difference_ci(x, y, n_boot=200, block_size=5.0, seed=rep).p_value < 0.05
    assert rejected <= 3  # P(>= 4 of 20) is ~1.6% at the nominal 5%


def test_planted_sharpe_edge_is_found() -> None:
    rng = np.random.default_rng(2)
    common = ar1(rng, 2000, 0.2)
    b = 0.0001 + 0.01 * common
    a = b + 0.0008 + 0.003 * rng.normal(size=2000)
    ci = sharpe_difference_ci(a, b, n_boot=500, seed=3)
    assert ci.low > 0.0 and ci.p_value < 0.01
    assert ci.block_size >= 1.0


def test_bootstrap_ci_covers_the_true_difference() -> None:
    """Planted difference, 40 replications: the 90% interval covers it in most of them."""
    rng = np.random.default_rng(4)
    mu_a, mu_b, sigma, rho, n = 0.0008, 0.0002, 0.01, 0.5, 500
    true = (mu_a - mu_b) / sigma * np.sqrt(252.0)
    covered = []
    for rep in range(40):
        z1, z2 = ar1(rng, n, 0.2), ar1(rng, n, 0.2)
        a = mu_a + sigma * z1
        b = mu_b + sigma * (rho * z1 + np.sqrt(1 - rho**2) * z2)
        ci = sharpe_difference_ci(a, b, n_boot=300, confidence=0.9, block_size=5.0, seed=rep)
        covered.append(ci.low <= true <= ci.high)
    assert np.mean(covered) >= 0.75  # nominal 0.90; P(< 30 of 40) is ~1% at 0.85 coverage


def test_bootstrap_is_seeded_and_checks_input() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=200), rng.normal(size=200)
    one = sharpe_difference_ci(a, b, n_boot=200, seed=np.random.default_rng(7))
    two = sharpe_difference_ci(a, b, n_boot=200, seed=7)
    assert one == two
    with pytest.raises(ValueError, match="same bars"):
        sharpe_difference_ci(a, b[:-1])
    with pytest.raises(ValueError, match="at least 10 bars"):
        sharpe_difference_ci(a[:5], b[:5])
    with pytest.raises(ValueError, match="NaN"):
        sharpe_difference_ci(np.r_[a[:-1], np.nan], b)


# --- paired sign-flip permutation test ----------------------------------------------------


def test_permutation_exact_equals_scipy() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(0.3, 1.0, 9), rng.normal(0.0, 1.0, 9)
    for alt in ("two-sided", "greater", "less"):
        ours = paired_permutation_test(a, b, alternative=alt)
        ref = sps.permutation_test(
            (a, b),
            lambda x, y, axis: np.mean(x - y, axis=axis),
            permutation_type="samples",
            n_resamples=np.inf,
            alternative=alt,
        )
        assert ours.exact and ours.n_resamples == 2**9
        assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_permutation_self_and_planted_edge() -> None:
    rng = np.random.default_rng(7)
    b = rng.normal(0.5, 0.4, 24)  # e.g. test Sharpe of 8 series x 3 seeds
    assert paired_permutation_test(b, b).p_value == 1.0
    noise = paired_permutation_test(b + rng.normal(0, 0.1, 24), b, seed=0)
    assert noise.p_value > 0.05
    edge = paired_permutation_test(b + 0.2 + rng.normal(0, 0.1, 24), b, seed=0)
    assert not edge.exact and edge.p_value < 0.001
    assert edge.p_value > 0.0  # add-one Monte Carlo estimate
    assert paired_permutation_test(b + 0.2, b, alternative="less", seed=0).p_value == 1.0


def test_permutation_monte_carlo_is_seeded_and_close_to_exact() -> None:
    rng = np.random.default_rng(8)
    a, b = rng.normal(0.2, 1.0, 12), rng.normal(0.0, 1.0, 12)
    exact = paired_permutation_test(a, b)
    mc = paired_permutation_test(a, b, n_resamples=2000, seed=1)
    assert exact.exact and not mc.exact
    assert mc == paired_permutation_test(a, b, n_resamples=2000, seed=1)
    assert mc.p_value == pytest.approx(exact.p_value, abs=0.03)


def test_permutation_too_few_runs_says_how_many() -> None:
    with pytest.raises(ValueError, match=r"at least 2 paired runs.*at least 6"):
        paired_permutation_test([1.0], [0.0])
    with pytest.raises(ValueError, match="paired run by run"):
        paired_permutation_test([1.0, 2.0, 3.0], [0.0, 1.0])


# --- IQM, stratified bootstrap, probability of improvement --------------------------------


def test_iqm_equals_trim_mean() -> None:
    assert iqm(np.arange(8.0)) == pytest.approx(3.5)  # mean of 2, 3, 4, 5
    x = np.random.default_rng(9).standard_t(3, size=(10, 5))
    assert iqm(x) == pytest.approx(sps.trim_mean(x, 0.25, axis=None))


def test_iqm_ci_brackets_point_and_is_stratified() -> None:
    rng = np.random.default_rng(10)
    x = rng.normal(size=(10, 4)) + np.arange(4) * 10.0  # tasks far apart
    est = iqm_ci(x, n_boot=500, seed=0)
    assert est.low <= est.point <= est.high
    assert est == iqm_ci(x, n_boot=500, seed=0)
    # Stratified: a replicate of task 0 only ever holds task 0's runs.
    first = stratified_bootstrap_ci(x, lambda b: b[:, :, 0].max(axis=1), n_boot=300, seed=1)
    assert x[:, 0].min() <= first.low and first.high <= x[:, 0].max()
    with pytest.raises(ValueError, match="at least 3 runs per task, got 2"):
        iqm_ci(x[:2])


def test_probability_of_improvement_known_cases() -> None:
    rng = np.random.default_rng(11)
    y = rng.normal(size=(6, 3))
    assert probability_of_improvement(y, y, n_boot=200, seed=0).point == pytest.approx(0.5)
    better = probability_of_improvement(y + 100.0, y, n_boot=200, seed=0)
    assert better.point == 1.0 and better.low == 1.0
    x = rng.normal(0.5, 1.0, size=(8, 3))
    u = [sps.mannwhitneyu(x[:, k], y[:, k]).statistic / (8 * 6) for k in range(3)]
    est = probability_of_improvement(x, y, n_boot=300, seed=0)
    assert est.point == pytest.approx(np.mean(u))
    assert est.low <= est.point <= est.high
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement(x, y[:, :2])


# --- probabilistic and deflated Sharpe ----------------------------------------------------


def test_deflated_sharpe_reproduces_published_example() -> None:
    """Bailey & López de Prado (2014), numerical example: N=100 trials, V=1/2 (annual),
    SR=2.5 annualised over T=1250 daily bars, skew -3, kurtosis 10 -> SR0 = 0.1132 (daily),
    DSR = 0.9004."""
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = psr_from_moments(2.5 / np.sqrt(250), 1250, -3.0, 10.0, sr0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def psr_reference(r: np.ndarray, sr_star: float) -> float:
    """Independent PSR: pandas moments, scipy's normal cdf, eq. (11) written out."""
    s = pd.Series(r)
    sr = s.mean() / s.std()
    m = s - s.mean()
    skew = (m**3).mean() / (m**2).mean() ** 1.5
    kurt = (m**4).mean() / (m**2).mean() ** 2
    sigma = np.sqrt((1 - skew * sr + (kurt - 1) / 4 * sr**2) / (len(r) - 1))
    return float(sps.norm.cdf((sr - sr_star) / sigma))


def test_psr_and_dsr_cross_checked() -> None:
    rng = np.random.default_rng(12)
    r = 0.0006 + 0.01 * rng.standard_t(4, 750) / np.sqrt(2.0)  # fat tails
    for sr_star in (0.0, 0.02, 0.05):
        assert probabilistic_sharpe_ratio(r, sr_star) == pytest.approx(psr_reference(r, sr_star))
    sr = r.mean() / r.std(ddof=1)
    assert probabilistic_sharpe_ratio(r, sr) == pytest.approx(0.5)
    assert deflated_sharpe_ratio(r, n_trials=1) == pytest.approx(probabilistic_sharpe_ratio(r))
    trials = rng.normal(0.5, 0.4, 50)  # annualised Sharpe of 50 tuning trials
    dsr = deflated_sharpe_ratio(r, n_trials=50, trial_sharpes=trials, periods_per_year=252)
    sr0 = expected_max_sharpe(50, trials.var(ddof=1) / 252)
    assert dsr == pytest.approx(psr_reference(r, sr0))
    more = deflated_sharpe_ratio(r, n_trials=500, trial_sharpes=trials, periods_per_year=252)
    assert more < dsr < probabilistic_sharpe_ratio(r)
    with pytest.raises(ValueError, match="exactly one"):
        deflated_sharpe_ratio(r, n_trials=10)
    with pytest.raises(ValueError, match="zero variance"):
        probabilistic_sharpe_ratio(np.ones(10))


# --- Holm and tidy pairing ----------------------------------------------------------------


def test_holm_equals_statsmodels_and_by_hand() -> None:
    p = {"uptrend": 0.01, "downtrend": 0.04, "plateau": 0.03, "oscillating": 0.2}
    out = holm_correction(p)
    ref = multipletests(list(p.values()), alpha=0.05, method="holm")
    np.testing.assert_allclose(out["p_holm"], ref[1])
    np.testing.assert_array_equal(out["reject"], ref[0])
    # Holm by hand: sorted p times (m - rank), running max, capped at 1.
    v = np.array(list(p.values()))
    order = np.argsort(v)
    adj = np.minimum(1, np.maximum.accumulate(v[order] * (len(v) - np.arange(len(v)))))
    np.testing.assert_allclose(out["p_holm"].to_numpy()[order], adj)
    assert list(out.index) == list(p)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm_correction([0.5, 1.5])


def test_paired_columns_pairs_tidy_rows() -> None:
    keys = pd.MultiIndex.from_product([["spy", "gld"], [0, 1], [0, 1, 2]]).to_frame(
        index=False, name=["series", "window", "seed"]
    )
    rows = pd.concat(
        [keys.assign(policy="enhanced", sharpe=1.0), keys.assign(policy="original", sharpe=0.5)]
    ).sample(frac=1.0, random_state=0)
    pairs = paired_columns(rows, "sharpe", "enhanced", "original")
    assert len(pairs) == 12 and (pairs["a"] - pairs["b"] == 0.5).all()
    with pytest.raises(ValueError, match="only one of"):
        paired_columns(rows.iloc[1:], "sharpe", "enhanced", "original")
    with pytest.raises(ValueError, match="lack columns"):
        paired_columns(rows.drop(columns="seed"), "sharpe", "enhanced", "original")
