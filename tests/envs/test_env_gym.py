"""The Gymnasium reference env: API conformance, causal observations, episode bounds."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from regime_trader.config import EnvConfig
from regime_trader.envs import spec
from regime_trader.envs.spec import BUY, HOLD, SELL
from regime_trader.envs.trading_env import TradingEnv

CHECK_CASES = [
    (False, False, "next_open"),
    (False, True, "next_open"),
    (True, False, "next_open"),
    (True, True, "close"),
]


class _CopyObs(gym.ObservationWrapper):
    """Copies each observation: isolates the shared-memory bug from the rest of check_env."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space

    def observation(self, observation: dict) -> dict:
        return {k: np.array(v, copy=True) for k, v in observation.items()}


def _check(env: gym.Env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_env warns about unbounded boxes; not a failure
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize(("allow_short", "random_start", "fill"), CHECK_CASES)
def test_check_env_passes(market_factory, allow_short: bool, random_start: bool, fill: str) -> None:
    m = market_factory(120, 4, seed=1, fill=fill)
    cfg = EnvConfig(window=8, episode_len=20, allow_short=allow_short, fill=fill)
    _check(TradingEnv(m, cfg, random_start=random_start))


def test_check_env_on_prepared_market(market, frac_config) -> None:
    _check(TradingEnv(market, frac_config.env.model_copy(update={"allow_short": True})))


@pytest.mark.parametrize(("allow_short", "random_start", "fill"), CHECK_CASES)
def test_check_env_passes_when_observations_are_copied(
    market_factory, allow_short: bool, random_start: bool, fill: str
) -> None:
    """Every other check_env rule holds (spaces, seeding, determinism, step API)."""
    m = market_factory(120, 4, seed=1, fill=fill)
    cfg = EnvConfig(window=8, episode_len=20, allow_short=allow_short, fill=fill)
    _check(_CopyObs(TradingEnv(m, cfg, random_start=random_start)))


def test_writing_into_an_observation_leaves_market_data_intact(market_factory) -> None:
    m = market_factory(50, 2, seed=4)
    before = m.features.clone()
    env = TradingEnv(m, EnvConfig(window=5))
    obs, _ = env.reset(seed=0)
    obs["window"][:] = 123.0  # a user normalising observations in place
    nxt, *_ = env.step(HOLD)
    assert torch.equal(m.features, before)
    assert not np.shares_memory(obs["window"], nxt["window"])


def test_spaces(market) -> None:
    cfg = EnvConfig(window=10)
    env = TradingEnv(market, cfg)
    assert env.observation_space["window"].shape == (10, market.n_features)
    assert env.observation_space["window"].dtype == np.float32
    assert env.action_space.n == 3
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["state"].tolist() == [0.0]


def _run(env: TradingEnv, actions, seed: int = 0):
    obs, info = env.reset(seed=seed)
    out = [(info["t"], obs)]
    for a in actions:
        obs, _, terminated, truncated, info = env.step(a)
        out.append((env.t, obs))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("allow_short", [False, True])
def test_observation_window_is_features_up_to_t(market, allow_short: bool) -> None:
    w = 10
    cfg = EnvConfig(window=w, allow_short=allow_short)
    env = TradingEnv(market, cfg)
    feats = market.features.numpy()
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, 200)
    obs, info = env.reset(seed=0)
    assert info["t"] == w - 1
    pos = 0.0
    for a in actions:
        t = env.t
        np.testing.assert_array_equal(obs["window"], feats[t - w + 1 : t + 1])
        assert obs["window"].shape == (w, market.n_features)
        assert obs["state"][0] == pos
        obs, _, _, truncated, info = env.step(a)
        assert info["t"] == t
        pos = float(spec.target_position(np.float64(pos), a, allow_short))
        if truncated:
            break


def test_observation_at_t_ignores_later_bars(market_factory) -> None:
    """Perturbing every feature after bar t leaves the observation at t unchanged."""
    base = market_factory(100, 3, seed=7)
    rng = np.random.default_rng(1)
    actions = rng.integers(0, 3, 100)
    cfg = EnvConfig(window=6, allow_short=True)
    ref = _run(TradingEnv(base, cfg), actions)
    for t_star in (5, 20, 57, 90):
        feats = base.features.clone()
        feats[t_star + 1 :] = torch.as_tensor(
            rng.standard_normal(feats[t_star + 1 :].shape), dtype=torch.float32
        )
        perturbed = dataclasses.replace(base, features=feats)
        got = _run(TradingEnv(perturbed, cfg), actions)
        seen = False
        for (t_ref, obs_ref), (t_got, obs_got) in zip(ref, got, strict=True):
            assert t_ref == t_got
            if t_ref <= t_star:
                seen = seen or t_ref == t_star
                np.testing.assert_array_equal(obs_ref["window"], obs_got["window"])
                np.testing.assert_array_equal(obs_ref["state"], obs_got["state"])
            elif t_ref == t_star + 1:  # the next bar does see the change (the test bites)
                assert not np.array_equal(obs_ref["window"], obs_got["window"])
        assert seen


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_episode_truncates_at_last_decision_bar(market_factory, fill: str) -> None:
    m = market_factory(60, 2, seed=2, fill=fill)
    cfg = EnvConfig(window=5, fill=fill)
    env = TradingEnv(m, cfg)
    _, info = env.reset(seed=0)
    seen, truncated = [], False
    while not truncated:
        _, reward, terminated, truncated, info = env.step(HOLD)
        assert not terminated
        assert np.isfinite(reward)
        seen.append(info["t"])
    last = spec.last_decision(len(m), fill)
    assert seen == list(range(4, last + 1))
    assert np.isfinite(m.growth.numpy()[last])
    assert env.last == last


def test_start_end_bound_the_episode(market) -> None:
    env = TradingEnv(market, EnvConfig(window=10), start=100, end=140)
    _, info = env.reset()
    assert info["t"] == 100
    ts, truncated = [], False
    while not truncated:
        *_, truncated, info = env.step(BUY)
        ts.append(info["t"])
    assert ts == list(range(100, 141))
    # start before the first full window is clamped to it
    assert TradingEnv(market, EnvConfig(window=10), start=0).first == 9
    with pytest.raises(ValueError):
        TradingEnv(market, EnvConfig(window=10), start=300, end=200)


def test_random_start_episodes(market) -> None:
    cfg = EnvConfig(window=10, episode_len=25)
    env = TradingEnv(market, cfg, random_start=True)
    starts = set()
    for seed in range(12):
        _, info = env.reset(seed=seed)
        start = info["t"]
        starts.add(start)
        n, truncated = 0, False
        while not truncated:
            *_, truncated, info = env.step(SELL)
            n += 1
        assert n == 25
        assert info["t"] == start + 24
        assert env.first <= start and start + 24 <= env.last
    assert len(starts) > 1
    # the same seed gives the same episode
    _, a = env.reset(seed=3)
    _, b = env.reset(seed=3)
    assert a["t"] == b["t"]


def test_reward_and_info(market) -> None:
    cfg = EnvConfig(window=10, cost_bps=7.0, reward_scale=50.0)
    env = TradingEnv(market, cfg)
    env.reset()
    t = env.t
    growth = market.growth.numpy()
    _, reward, _, _, info = env.step(BUY)
    cost = 7e-4
    want = (1 - cost) * growth[t] - 1
    assert info["cost"] == pytest.approx(cost, rel=1e-12)
    assert info["step_return"] == pytest.approx(want, rel=1e-12)
    assert reward == pytest.approx(50.0 * want, rel=1e-12)
    assert info["equity"] == pytest.approx(1 + want, rel=1e-12)
