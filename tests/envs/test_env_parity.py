"""The Gymnasium env and the batched torch env agree step by step (ARCHITECTURE "Execution")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from regime_trader.config import EnvConfig, RewardConfig
from regime_trader.envs import spec
from regime_trader.envs.rewards import shaped_reward
from regime_trader.envs.trading_env import TradingEnv
from regime_trader.envs.vector_env import VectorTradingEnv

RTOL = 1e-12


def _gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _assert_obs_equal(gym_obs: dict, window: torch.Tensor, state: torch.Tensor) -> None:
    np.testing.assert_array_equal(gym_obs["window"], window.numpy())
    np.testing.assert_array_equal(gym_obs["state"], state.numpy())


def _check_parity(
    market, cfg: EnvConfig, starts, stops, actions: np.ndarray, reward: RewardConfig | None = None
) -> None:
    """Pin each batched episode to ``[start, stop]`` and compare with one Gym env per episode."""
    n = len(starts)
    vec = VectorTradingEnv(market, cfg, n, generator=_gen(0), reward=reward)
    vec.t = torch.as_tensor(starts, dtype=torch.long)
    vec.stop = torch.as_tensor(stops, dtype=torch.long)
    gyms = [
        TradingEnv(market, cfg, start=s, end=e, reward=reward)
        for s, e in zip(starts, stops, strict=True)
    ]
    obs = []
    for g, s in zip(gyms, starts, strict=True):
        o, info = g.reset(seed=0)
        assert info["t"] == s
        obs.append(o)
    live = np.ones(n, dtype=bool)
    for k in range(actions.shape[0]):
        window, state = vec.observe()
        for i in np.flatnonzero(live):
            _assert_obs_equal(obs[i], window[i], state[i])
        act = actions[k]
        ends = vec.t >= vec.stop  # the batched env ends (and auto-resets) these episodes now
        tr = vec.step(torch.as_tensor(act, dtype=torch.long))
        for i in np.flatnonzero(live):
            o, reward, terminated, truncated, info = gyms[i].step(int(act[i]))
            obs[i] = o
            assert int(tr.t[i]) == info["t"]
            np.testing.assert_allclose(float(tr.step_return[i]), info["step_return"], rtol=RTOL)
            # the batched env stores float32 rewards (replay records); equal at that precision
            assert float(tr.reward[i]) == float(np.float32(reward))
            np.testing.assert_allclose(
                float(tr.reward[i]), reward, rtol=1e-6, atol=1e-6 * cfg.reward_scale
            )
            assert float(tr.next_position[i]) == gyms[i].position
            assert bool(ends[i]) == (terminated or truncated)
            assert not terminated
            if truncated:
                live[i] = False  # the batched env auto-resets this slot; stop comparing it
            else:
                assert float(vec.position[i]) == gyms[i].position
                np.testing.assert_allclose(float(vec.equity[i]), info["equity"], rtol=RTOL)
        if not live.any():
            break
    assert not live.any(), "action sequence shorter than the episodes"


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    allow_short=st.booleans(),
    fill=st.sampled_from(["next_open", "close"]),
)
@pytest.mark.slow  # ~2 s on two busy cores
def test_parity_single_env(market_factory, seed: int, allow_short: bool, fill: str) -> None:
    m = market_factory(90, 3, seed=seed % 97, fill=fill)
    cfg = EnvConfig(window=7, allow_short=allow_short, fill=fill, cost_bps=5.0)
    rng = np.random.default_rng(seed)
    start = int(rng.integers(6, 40))
    stop = spec.last_decision(len(m), fill)
    actions = rng.integers(0, 3, (stop - start + 1, 1))
    _check_parity(m, cfg, [start], [stop], actions)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), allow_short=st.booleans())
@pytest.mark.slow  # ~2 s on two busy cores
def test_parity_four_envs(market_factory, seed: int, allow_short: bool) -> None:
    m = market_factory(120, 3, seed=seed % 89)
    cfg = EnvConfig(window=9, allow_short=allow_short, cost_bps=12.5, reward_scale=100.0)
    rng = np.random.default_rng(seed)
    last = spec.last_decision(len(m), cfg.fill)
    starts = rng.integers(8, 80, 4)
    stops = np.minimum(starts + rng.integers(1, 50, 4), last)
    actions = rng.integers(0, 3, (int((stops - starts).max()) + 1, 4))
    _check_parity(m, cfg, starts.tolist(), stops.tolist(), actions)


def test_parity_prepared_market(market, frac_config) -> None:
    cfg = frac_config.env.model_copy(update={"allow_short": True})
    rng = np.random.default_rng(5)
    last = spec.last_decision(len(market), cfg.fill)
    starts = [cfg.window - 1, 100, 300, last - 20]
    stops = [last, 360, 301, last]
    actions = rng.integers(0, 3, (last + 1, 4))
    _check_parity(market, cfg, starts, stops, actions)


@pytest.mark.parametrize("allow_short", [False, True])
def test_parity_with_auto_reset_over_an_episode_range(market_factory, allow_short: bool) -> None:
    """An episode range as long as ``episode_len`` pins every (auto-reset) episode's start."""
    m = market_factory(100, 2, seed=11)
    cfg = EnvConfig(window=5, episode_len=30, allow_short=allow_short)
    start, end = 20, 49
    vec = VectorTradingEnv(m, cfg, 1, generator=_gen(3), start=start, end=end)
    gym_env = TradingEnv(m, cfg, start=start, end=end)
    rng = np.random.default_rng(2)
    for _episode in range(3):
        assert int(vec.t[0]) == start
        assert float(vec.position[0]) == 0.0 and float(vec.equity[0]) == 1.0
        obs, _ = gym_env.reset()
        for step in range(cfg.episode_len):
            window, state = vec.observe()
            _assert_obs_equal(obs, window[0], state[0])
            a = int(rng.integers(0, 3))
            ends = bool(vec.t[0] >= vec.stop[0])
            tr = vec.step(torch.tensor([a]))
            obs, reward, _, truncated, info = gym_env.step(a)
            np.testing.assert_allclose(float(tr.step_return[0]), info["step_return"], rtol=RTOL)
            assert ends == truncated == (step == cfg.episode_len - 1)
            assert ends == (int(vec.t[0]) == start)  # an ended episode restarts at once
            if not truncated:
                np.testing.assert_allclose(float(vec.equity[0]), info["equity"], rtol=RTOL)


def test_vector_env_episode_starts_within_range(market) -> None:
    cfg = EnvConfig(window=10, episode_len=50)
    vec = VectorTradingEnv(market, cfg, 64, generator=_gen(1), start=30, end=200)
    assert int(vec.t.min()) >= 30
    assert int((vec.t + cfg.episode_len - 1).max()) <= 200
    assert torch.equal(vec.stop, vec.t + cfg.episode_len - 1)
    assert len(set(vec.t.tolist())) > 1


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), allow_short=st.booleans())
@pytest.mark.slow  # ~2 s on two busy cores
def test_parity_regime_reward(market_factory, seed: int, allow_short: bool) -> None:
    """The regime-aware reward (every branch active) is equal in both engines."""
    m = market_factory(120, 3, seed=seed % 83)
    cfg = EnvConfig(window=9, allow_short=allow_short, cost_bps=10.0)
    reward = RewardConfig(kind="regime", overtrading_penalty=1e-3, missed_uptrend_penalty=5e-4)
    rng = np.random.default_rng(seed)
    last = spec.last_decision(len(m), cfg.fill)
    starts = rng.integers(8, 60, 3)
    stops = np.minimum(starts + rng.integers(10, 50, 3), last)
    actions = rng.integers(0, 3, (int((stops - starts).max()) + 1, 3))
    _check_parity(m, cfg, starts.tolist(), stops.tolist(), actions, reward)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), allow_short=st.booleans())
@pytest.mark.slow  # ~2 s on two busy cores
def test_regime_reward_is_rebuilt_from_the_replay_record(
    market_factory, seed: int, allow_short: bool
) -> None:
    """Markov: each reward is a function of the stored (t, position, action) alone, in both
    engines and whatever the history; a buy while long (or a sell while flat) pays no
    over-trading penalty."""
    m = market_factory(150, 3, seed=seed % 71)
    cfg = EnvConfig(window=6, allow_short=allow_short, cost_bps=7.0, episode_len=40)
    reward = RewardConfig(kind="regime", overtrading_penalty=2e-3, missed_uptrend_penalty=1e-3)
    vec = VectorTradingEnv(m, cfg, 8, generator=_gen(seed % 1000), reward=reward)
    rng = np.random.default_rng(seed)
    for _ in range(60):
        tr = vec.step(torch.as_tensor(rng.integers(0, 3, 8)))
        new = spec.target_position(tr.position.double(), tr.action, allow_short)
        assert torch.equal(new.float(), tr.next_position)
        cost = spec.trade_cost(tr.position.double(), new, cfg.cost_bps)
        growth = m.growth[tr.t]
        ret = spec.step_return(new, growth, cost)
        want = shaped_reward(ret, growth, cost, tr.position.double(), new, m.regimes[tr.t], reward)
        torch.testing.assert_close(tr.reward, (want * cfg.reward_scale).float())
        gym_env = TradingEnv(m, cfg, start=int(tr.t[0]), end=int(tr.t[0]), reward=reward)
        gym_env.reset()
        gym_env.position = float(tr.position[0])  # any history that reached this state
        _, r_gym, *_ = gym_env.step(int(tr.action[0]))
        assert float(tr.reward[0]) == float(np.float32(r_gym))


def test_buy_while_long_is_not_a_trade(market_factory) -> None:
    m = market_factory(80, 2, seed=3)
    cfg = EnvConfig(window=5, cost_bps=0.0)
    pen = RewardConfig(kind="regime", overtrading_penalty=0.5, missed_uptrend_penalty=0.0)
    free = pen.model_copy(update={"overtrading_penalty": 0.0})
    rewards = {}
    for name, rc in (("pen", pen), ("free", free)):
        env = TradingEnv(m, cfg, start=10, end=20, reward=rc)
        env.reset()
        rewards[name] = [env.step(a)[1] for a in (spec.BUY, spec.BUY, spec.HOLD, spec.SELL)]
    diff = np.subtract(rewards["free"], rewards["pen"]) / cfg.reward_scale
    np.testing.assert_allclose(diff, [0.5, 0.0, 0.0, 0.5], atol=1e-12)
