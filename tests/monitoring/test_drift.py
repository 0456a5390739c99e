"""PSI against a hand computation; calibrated ranges; drift limits calibrated per feature fire on
a shift and not on a same-distribution sample; regime-mix ranges and distance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regime_trader.monitoring.calibrate import calibrated_range, window_counts
from regime_trader.monitoring.drift import PSI_FLOOR, DriftReference, psi
from regime_trader.monitoring.regime_mix import RegimeReference, regime_mix_shift


def test_psi_matches_a_hand_computed_value() -> None:
    expected = np.arange(100.0)  # quartile edges 24.75, 49.5, 74.25: 25 values per bin
    actual = np.r_[np.full(40, 10.0), np.full(30, 30.0), np.full(20, 60.0), np.full(10, 90.0)]
    shares = [0.4, 0.3, 0.2, 0.1]
    hand = sum((a - 0.25) * math.log(a / 0.25) for a in shares)  # = 0.228...
    assert psi(expected, actual, bins=4) == pytest.approx(hand, rel=1e-12)
    assert psi(expected, expected, bins=4) == 0.0
    # a value never seen in training lands in its own bin (expected share floored at 1e-4)
    outside = np.r_[actual[:90], np.full(10, 500.0)]
    assert psi(expected, outside, bins=4) > psi(expected, actual, bins=4) + 0.5


def test_calibrated_range_widens_the_extremes_from_the_median() -> None:
    v = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    lo, hi = calibrated_range(v, margin=0.5)
    assert lo[0] == pytest.approx(0.0 - 0.5 * (2.0 - 0.0))
    assert hi[0] == pytest.approx(10.0 + 0.5 * (10.0 - 2.0))
    counts = window_counts(np.array([0, 1, 1, 2, -1]), 3, window=2)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 2, 0], [0, 1, 1], [0, 0, 1]])


def test_drift_limits_fire_on_a_shifted_feature_only() -> None:
    rng = np.random.default_rng(0)
    train, val = rng.standard_normal((4000, 3)), rng.standard_normal((1000, 3))
    ref = DriftReference.calibrate(train, ["a", "b", "c"], window=250, validation=val)
    assert (ref.limits >= PSI_FLOOR).all()
    for i in range(0, 751, 50):  # every validation window is under its limits
        assert ref.ratios(val[i : i + 250]).max() <= 1.0
    live = rng.standard_normal((250, 3))
    live[:, 1] += 0.5  # half a standard deviation
    ratios = ref.ratios(live)
    assert ratios[1] > 1.0 and ratios[0] < 1.0 and ratios[2] < 1.0
    again = DriftReference.from_dict(ref.to_dict())
    np.testing.assert_allclose(again.ratios(live), ratios)


def test_rolling_feature_is_not_drift_by_the_fixed_reading() -> None:
    """An autocorrelated feature: its windows' PSI is far above the fixed 0.2 reading without
    any change, so its limit is calibrated to that level."""
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(7000)
    slow = np.convolve(noise, np.ones(60) / 60, mode="valid")[:6000, None]  # a 60-bar mean
    ref = DriftReference.calibrate(slow[:4000], ["slow"], window=250, validation=slow[4000:5000])
    held_out = [slow[i : i + 250] for i in range(5000, 5751, 50)]  # never calibrated on
    assert np.median([ref.psi_of(w)[0] for w in held_out]) > 0.2  # the fixed reading alarms
    assert max(ref.ratios(w)[0] for w in held_out) < 1.0


def test_regime_mix_ranges_and_distance() -> None:
    a = np.array([0] * 50 + [1] * 50)
    b = np.array([0] * 80 + [2] * 20 + [-1] * 30)  # unknown labels ignored
    assert regime_mix_shift(a, b) == pytest.approx(0.5 * (0.3 + 0.5 + 0.2))
    assert regime_mix_shift(a, a) == 0.0
    rng = np.random.default_rng(2)
    labels = np.repeat(rng.integers(0, 4, 200), 20)  # 20-bar regimes, balanced mix
    ref = RegimeReference.calibrate(labels[:3000], window=200, validation=labels[3000:])
    assert ref.score(labels[3500:3700])[0] <= 1.0
    score, shares, _ = ref.score(np.full(200, 1))  # only downtrends
    assert score > 1.0 and shares[1] == 1.0
    assert not ref.ready(np.full(200, -1))  # warm-up labels: no verdict
