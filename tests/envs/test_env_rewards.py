"""The regime-aware reward: one test per branch, NumPy and torch alike."""

import numpy as np
import pytest
import torch

from regime_trader.config import Config, RewardConfig
from regime_trader.envs.rewards import regime_reward, shaped_reward
from regime_trader.envs.spec import step_return, trade_cost
from regime_trader.errors import ConfigError

CFG = RewardConfig(
    kind="regime",
    uptrend_scale=2.0,
    missed_uptrend_penalty=0.01,
    downtrend_positive_scale=3.0,
    downtrend_negative_scale=0.5,
    cost_scale=1.0,
    overtrading_penalty=0.1,
)


def r(gross, cost=0.0, pos=1.0, regime=2, old=None, cfg=CFG):
    """The reward of holding `pos` over the step, coming from `old` (default: no trade)."""
    old = pos if old is None else old
    return float(
        regime_reward(np.float64(gross), cost, np.float64(old), np.float64(pos), regime, cfg)
    )


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


def test_overtrading_penalty_counts_position_changes_only():
    assert r(0.0, pos=1.0, old=0.0) == pytest.approx(-0.1)  # flat -> long trades
    assert r(0.0, pos=0.0, old=1.0) == pytest.approx(-0.1)  # long -> flat trades
    assert r(0.0, pos=1.0, old=-1.0) == pytest.approx(-0.1)  # a flip is one trade
    assert r(0.0, pos=1.0, old=1.0) == pytest.approx(0.0)  # buy while long: nothing trades
    assert r(0.0, pos=0.0, old=0.0, regime=2) == pytest.approx(0.0)  # hold flat


def test_shaped_reward_picks_the_kind():
    assert shaped_reward(0.01, 1.02, 0.0, 1.0, 1.0, 0, RewardConfig()) == 0.01  # pnl: net return
    cost = float(trade_cost(0.0, 1.0, 5.0))
    ret = float(step_return(1.0, 1.01, cost))
    want = r(0.01, cost=cost, pos=1.0, regime=0, old=0.0)
    assert float(shaped_reward(ret, 1.01, cost, 0.0, 1.0, 0, CFG)) == pytest.approx(want)


def test_torch_and_numpy_agree():
    rng = np.random.default_rng(0)
    gross, cost = rng.normal(0, 0.01, 50), rng.uniform(0, 1e-3, 50)
    pos = rng.choice([-1.0, 0.0, 1.0], 50)
    old = rng.choice([-1.0, 0.0, 1.0], 50)
    regime = rng.integers(-1, 4, 50)
    want = regime_reward(gross, cost, old, pos, regime, CFG)
    got = regime_reward(
        torch.tensor(gross),
        torch.tensor(cost),
        torch.tensor(old),
        torch.tensor(pos),
        torch.tensor(regime),
        CFG,
    )
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_removed_window_fields_get_a_pointed_error():
    with pytest.raises(ConfigError, match="overtrading_window' was removed"):
        Config.from_dict({"reward": {"overtrading_window": 20}})
