"""Signal, not noise: replaying unchanged bars raises no alert, and injected shifts (volatility
x3, trend reversal, regime-mix change) are detected within stated bounds.

Bounds (rows = daily decisions after the shift's first bar), with the default MonitorConfig
(63-bar metrics, checks every 21 bars, 250-row drift and 252-bar regime windows, margin 0.5):

* volatility x3: within 63 rows (one metrics window);
* trend reversal: within 300 rows;
* regime-mix change (to a range-bound market): within 252 rows (one regime window).

docs/monitoring.md has the table over 20 synthetic seeds (`python -m
regime_trader.monitoring.shifts`).
"""

from __future__ import annotations

import numpy as np
import pytest

from regime_trader.monitoring import MonitorConfig
from regime_trader.monitoring import shifts as S

BOUNDS = {"volatility": 63, "reversal": 300, "regime_mix": 252}


def test_inject_shift_changes_only_bars_from_the_shift() -> None:
    bars = S.synthetic_market(600, S.BULL, 0)
    other = S.synthetic_market(600, S.SIDEWAYS, 1)
    r = np.diff(np.log(bars["close"].to_numpy()))
    for kind in S.SHIFTS:
        out = S.inject_shift(bars, 300, kind, other=other)
        assert out.iloc[:300].equals(bars.iloc[:300])
        assert (out["high"] >= out[["open", "close"]].max(axis=1) - 1e-9).all()
        assert (out["low"] <= out[["open", "close"]].min(axis=1) + 1e-9).all()
    vol = np.diff(np.log(S.inject_shift(bars, 300, "volatility")["close"].to_numpy()))
    np.testing.assert_allclose(vol[299:], 3 * r[299:])
    rev = np.diff(np.log(S.inject_shift(bars, 300, "reversal")["close"].to_numpy()))
    np.testing.assert_allclose(rev[299:], -r[299:])
    mix = S.inject_shift(bars, 300, "regime_mix", other=other)
    assert S.per_bar_vol(mix.iloc[300:]) == pytest.approx(S.per_bar_vol(bars.iloc[50:300]), 0.3)
    with pytest.raises(ValueError, match="unknown shift"):
        S.inject_shift(bars, 300, "crash")


def test_synthetic_unchanged_replays_are_quiet_and_shifts_are_detected() -> None:
    """Seed 0 of the 20 in docs/monitoring.md (not chosen: the first one)."""
    res = S.synthetic_study(0)
    assert res["validation_alerts"] == 0  # by construction of the calibration
    assert res["unchanged_alerts"] == 0  # 1,000 held-out bars of the same market
    for kind, bound in BOUNDS.items():
        assert res[kind] is not None and res[kind] <= bound, (kind, res[kind])


def test_spx_validation_replay_is_quiet_and_shifts_are_detected() -> None:
    """spx: calibrated on 1999-2012 (train) and 2013-2015 (validation); shifts injected one
    year into the validation years."""
    res = S.spx_study()
    assert res["validation_alerts"] == 0
    # the test years 2016-2018 hold 2017's record-low volatility, outside every training
    # window: a few drift alerts there are signal (measured: 3, all ret_5)
    assert res["unchanged_alerts"] <= 3
    for kind, bound in BOUNDS.items():
        assert res[kind] is not None and res[kind] <= bound, (kind, res[kind])


def test_the_validation_replay_of_a_paper_feed_is_quiet() -> None:
    """The same replay through `ModelMonitor` with a shorter window and drift window."""
    cfg = MonitorConfig(window=42, check_every=7, drift_window=120, long_factor=3)
    data = S.replayable(S.synthetic_market(3000, S.BULL, 5))
    expected = S.calibrate(data, slice(0, 2000), slice(2000, 2600), cfg)
    assert S.replay(data, expected, cfg, 2000, 2600).count() == 0


def test_detection_over_twenty_seeds() -> None:
    """The table of docs/monitoring.md at the default margin (about 6 s): every shift detected
    in every seed, medians within the bounds."""
    rows = [S.synthetic_study(seed) for seed in range(20)]
    assert all(r["validation_alerts"] == 0 for r in rows)
    assert sum(r["unchanged_alerts"] or 0 for r in rows) <= 30  # measured 27 in 20,000 rows
    for kind, bound in BOUNDS.items():
        delays = [r[kind] for r in rows]
        assert None not in delays
        assert np.median(delays) <= bound, (kind, delays)
