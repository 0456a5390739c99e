"""The regime-aware reward: one test per branch, NumPy and torch alike."""

import numpy as np
import pytest
import torch

from regime_trader.config import RewardConfig
from regime_trader.envs.rewards import regime_reward

CFG = RewardConfig(
    kind="regime",
    uptrend_scale=2.0,
    missed_uptrend_penalty=0.01,
    downtrend_positive_scale=3.0,
    downtrend_negative_scale=0.5,
    cost_scale=1.0,
    overtrading_window=5,
    max_trades=2,
    overtrading_penalty=0.1,
)


def r(gross, cost=0.0, pos=1.0, regime=2, trades=0, cfg=CFG):
    return float(regime_reward(np.float64(gross), cost, np.float64(pos), regime, trades, cfg))


def test_uptrend_scales_the_return():
    assert r(0.01, regime=0) == pytest.approx(0.02)


def test_missed_uptrend_penalised_only_when_out_of_the_market():
    assert r(0.0, pos=0.0, regime=0) == pytest.approx(-0.01)
    assert r(0.0, pos=-1.0, regime=0) == pytest.approx(-0.01)
    assert r(0.0, pos=1.0, regime=0) == pytest.approx(0.0)  # holding long is not "missing" it
    assert r(0.0, pos=0.0, regime=2) == pytest.approx(0.0)  # only in uptrends


def test_downtrend_gains_and_losses_scaled_differently():
    assert r(0.01, regime=1) == pytest.approx(0.03)
    assert r(-0.01, regime=1) == pytest.approx(-0.005)


@pytest.mark.parametrize("regime", [2, 3, -1])
def test_other_regimes_are_neutral(regime):
    assert r(0.01, regime=regime) == pytest.approx(0.01)
    assert r(-0.02, regime=regime) == pytest.approx(-0.02)


def test_cost_term_is_the_env_cost():
    assert r(0.0, cost=0.0005) == pytest.approx(-0.0005)
    double = CFG.model_copy(update={"cost_scale": 2.0})
    assert r(0.0, cost=0.0005, cfg=double) == pytest.approx(-0.001)


def test_overtrading_counts_trades_in_the_window():
    assert r(0.0, trades=2) == pytest.approx(0.0)  # at the limit: no penalty
    assert r(0.0, trades=3) == pytest.approx(-0.1)


def test_torch_and_numpy_agree():
    rng = np.random.default_rng(0)
    gross, cost = rng.normal(0, 0.01, 50), rng.uniform(0, 1e-3, 50)
    pos = rng.choice([-1.0, 0.0, 1.0], 50)
    regime, trades = rng.integers(-1, 4, 50), rng.integers(0, 6, 50)
    want = regime_reward(gross, cost, pos, regime, trades, CFG)
    got = regime_reward(
        torch.tensor(gross),
        torch.tensor(cost),
        torch.tensor(pos),
        torch.tensor(regime),
        torch.tensor(trades),
        CFG,
    )
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
