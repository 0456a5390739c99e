"""The one decision rule (`evaluation.decisions`) used by backtests, packages and the service."""

from __future__ import annotations

import numpy as np
import pytest

from regime_trader.envs import spec
from regime_trader.errors import ConfigError
from regime_trader.policy.backtest import walk_policy
from regime_trader.policy.rule import (
    DecisionRule,
    position_sizes,
    regime_probabilities,
    rule_actions,
)


def _q(t: int = 200, p: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((t, p, spec.N_ACTIONS))


def _probs(t: int = 200, seed: int = 1) -> np.ndarray:
    return regime_probabilities(None, np.random.default_rng(seed).integers(-1, 4, t))


def test_identity_rule_is_argmax() -> None:
    q = _q()
    np.testing.assert_array_equal(rule_actions(q, _probs()[:, None], DecisionRule()), q.argmax(-1))


def test_a_large_margin_stops_all_trading() -> None:
    q = _q()
    rule = DecisionRule(base=(0.0, 100.0, 100.0))
    acts = rule_actions(q, _probs()[:, None], rule)
    assert (acts == spec.HOLD).all()
    path = walk_policy(q, _probs(), allow_short=False, rule=rule)
    assert (path.positions == 0).all()


def test_margin_applies_only_to_trades_that_barely_beat_hold() -> None:
    q = np.array([[[0.0, 0.0, 0.3]], [[0.0, 0.0, 2.0]], [[1.0, 0.0, 0.5]]])  # [T=3, P=1, A]
    probs = np.full((3, 1, 4), 0.25)
    acts = rule_actions(q, probs, DecisionRule(base=(0.0, 1.0, 1.0)))
    np.testing.assert_array_equal(acts[:, 0], [spec.HOLD, spec.BUY, spec.HOLD])


def test_regime_modifier_weights_by_probability() -> None:
    q = np.array([[[0.0, 0.0, 0.5]], [[0.0, 0.0, 0.5]]])
    probs = np.array([[[0, 1.0, 0, 0]], [[1.0, 0, 0, 0]]])  # downtrend, then uptrend
    mod = [[0.0] * 3 for _ in range(4)]
    mod[1][spec.BUY] = 1.0  # buying in a downtrend needs a margin of 1
    acts = rule_actions(q, probs, DecisionRule(regime_mod=tuple(map(tuple, mod))))
    np.testing.assert_array_equal(acts[:, 0], [spec.HOLD, spec.BUY])


def test_uptrend_boost_buys_more_as_uptrend_probability_rises() -> None:
    q = _q(500, 1)
    rule = DecisionRule(boost=1.0, threshold=0.3)
    buys = []
    for p_up in (0.0, 0.5, 1.0):
        probs = np.tile([p_up, 1 - p_up, 0, 0], (500, 1, 1))
        buys.append((rule_actions(q, probs, rule) == spec.BUY).mean())
    assert buys[0] < buys[1] < buys[2]


def test_one_row_at_a_time_equals_the_batch() -> None:
    """The streaming service applies the rule to one bar; it must match the batch."""
    q, probs = _q(50, 2), _probs(50)
    rule = DecisionRule(base=(0, 0.3, 0.2), boost=0.5, threshold=0.2, temperature=0.7)
    batch = rule_actions(q, probs[:, None], rule)
    rows = np.stack([rule_actions(q[i], probs[i][None], rule) for i in range(50)])
    np.testing.assert_array_equal(batch, rows)


def test_confidence_sizes_are_steps_between_min_size_and_one() -> None:
    q = _q(300, 1)[:, 0]
    sizes = position_sizes(q, _probs(300), np.ones(300), DecisionRule(sizing="confidence"))
    assert set(np.unique(sizes)) <= {0.25, 0.5, 0.75, 1.0}
    assert len(np.unique(sizes)) > 1
    np.testing.assert_array_equal(
        position_sizes(q, _probs(300), np.zeros(300), DecisionRule(sizing="confidence")), 0
    )


def test_rule_round_trips_and_bad_fields_are_named() -> None:
    rule = DecisionRule(base=(0, 0.1, 0.2), boost=1.5, sizing="confidence")
    assert DecisionRule.from_dict(rule.to_dict()) == rule
    with pytest.raises(ConfigError, match="cal.json: unknown field"):
        DecisionRule.from_dict({"bost": 1}, source="cal.json")
    with pytest.raises(ConfigError, match="threshold"):
        DecisionRule(threshold=1.5)


def test_detector_probabilities_are_a_softmax_and_labels_one_hot() -> None:
    p = regime_probabilities(np.array([[0.0, 0.0, 0.0, np.log(3)]]), np.array([0]))
    np.testing.assert_allclose(p, [[1 / 6, 1 / 6, 1 / 6, 0.5]])
    p = regime_probabilities(None, np.array([2, -1]))
    np.testing.assert_allclose(p, [[0, 0, 1, 0], [0.25] * 4])


def test_boost_is_the_uptrend_calibrator() -> None:
    """The rule's boost is the plan's `UptrendCalibrator` (nets/calibration.py), same formula."""
    import torch

    from regime_trader.nets.calibration import UptrendCalibrator
    from regime_trader.policy.rule import scores

    q = _q(64, 1)[:, 0]
    probs = np.random.default_rng(5).dirichlet(np.ones(4), 64)
    rule = DecisionRule(boost=1.5, threshold=0.3, temperature=0.8)
    cal = UptrendCalibrator(boost=1.5, threshold=0.3, temperature=0.8)
    want = cal(torch.tensor(q), torch.tensor(probs)).numpy()
    s = scores(q, probs, rule)
    got = np.exp(s - s.max(1, keepdims=True))
    np.testing.assert_allclose(got / got.sum(1, keepdims=True), want, rtol=1e-6, atol=1e-9)
