"""PSI against a hand computation; drift fires on a shift, not on a large same-distribution
sample; regime-mix distance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regime_trader.monitoring.drift import KS_FLOOR, feature_drift, psi, regime_mix_shift


def test_psi_matches_a_hand_computed_value() -> None:
    expected = np.arange(100.0)  # quartile edges 24.75, 49.5, 74.25: 25 values per bin
    actual = np.r_[np.full(40, 10.0), np.full(30, 30.0), np.full(20, 60.0), np.full(10, 90.0)]
    shares = [0.4, 0.3, 0.2, 0.1]
    hand = sum((a - 0.25) * math.log(a / 0.25) for a in shares)  # = 0.228...
    assert psi(expected, actual, bins=4) == pytest.approx(hand, rel=1e-12)
    assert psi(expected, expected, bins=4) == 0.0


def test_drift_fires_on_a_shifted_feature_only() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((5000, 3))
    live = rng.standard_normal((2000, 3))
    live[:, 1] += 0.5  # half a standard deviation
    res = feature_drift(ref, live, ["a", "b", "c"])
    assert [d.feature for d in res if d.drifted] == ["b"]
    assert res[1].psi > 0.2 and res[1].ks_stat > KS_FLOOR


def test_no_drift_on_a_large_same_distribution_sample() -> None:
    """50,000 live rows: a tiny shift is 'significant' by p-value, yet not drift."""
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((20_000, 4))
    live = rng.standard_normal((50_000, 4))
    live[:, 3] += 0.04  # 4% of a sd: p << 0.01 at this size, D ~ 0.016
    res = feature_drift(ref, live, list("wxyz"))
    assert not any(d.drifted for d in res)
    assert res[3].ks_pvalue < 0.01  # a raw p-value rule would have fired


def test_regime_mix_shift_is_total_variation() -> None:
    a = np.array([0] * 50 + [1] * 50)
    b = np.array([0] * 80 + [2] * 20 + [-1] * 30)  # unknown labels ignored
    assert regime_mix_shift(a, b) == pytest.approx(0.5 * (0.3 + 0.5 + 0.2))
    assert regime_mix_shift(a, a) == 0.0
