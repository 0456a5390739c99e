"""Fractional positions: vol-target sizes, costs on traded notional, parity of every engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from _causality import perturb_after
from regime_trader.config import EnvConfig, RewardConfig
from regime_trader.envs import spec
from regime_trader.envs.market import MarketData
from regime_trader.envs.spec import BUY, HOLD, SELL
from regime_trader.envs.trading_env import TradingEnv
from regime_trader.envs.vector_env import VectorTradingEnv
from regime_trader.policy.backtest import decision_range, simulate
from regime_trader.policy.metrics import bars_per_year
from regime_trader.policy.prepare import bar_sizes, prepare
from regime_trader.training.curriculum import concat


def _gen(seed: int = 0) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _sized(market: MarketData, size: np.ndarray) -> MarketData:
    """The same market with other per-bar sizes."""
    return dataclasses.replace(market, size=torch.as_tensor(size, dtype=torch.float64))


def _vol_market(market_factory, n: int, seed: int, fill: str = "next_open", lev: float = 1.5):
    m = market_factory(n, 3, seed=seed, fill=fill)
    return _sized(m, spec.sizes_vol_target(m.close, 10, 0.15, 252.0, lev))


# --- sizes ---------------------------------------------------------------------------------


def test_vol_target_sizes_equal_a_rolling_std(ohlcv_factory) -> None:
    close = ohlcv_factory(300, seed=4, vol=0.02)["close"].to_numpy()
    got = spec.sizes_vol_target(close, 20, 0.15, 252.0, max_leverage=2.0)
    vol = pd.Series(np.log(close)).diff().rolling(20).std().to_numpy() * np.sqrt(252.0)
    want = np.minimum(2.0, 0.15 / vol)
    assert np.all(got[:20] == 1.0)  # warm-up: full size (min(1, max_leverage)), never a later value
    np.testing.assert_allclose(got[20:], want[20:], rtol=1e-9)
    assert 0.1 < got[20:].min() < got[20:].max() <= 2.0  # really fractional here


def test_vol_target_caps_flat_prices_and_short_series() -> None:
    flat = np.full(50, 100.0)
    np.testing.assert_array_equal(spec.sizes_vol_target(flat, 5, 0.1, 252.0, 0.8), 0.8)
    assert spec.sizes_vol_target(flat[:4], 5, 0.1, 252.0).tolist() == [1.0] * 4
    with pytest.raises(ValueError, match="vol_window"):
        spec.sizes_vol_target(flat, 1, 0.1, 252.0)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    t=st.integers(0, 198),
    factor=st.floats(0.2, 5.0).filter(lambda f: abs(f - 1.0) > 1e-3),
)
def test_sizes_are_causal(ohlcv_factory, seed: int, t: int, factor: float) -> None:
    """Perturbing every bar after t leaves ``size[:t+1]`` bit-for-bit unchanged."""
    df = ohlcv_factory(200, seed=seed % 1000, vol=0.015)
    env = EnvConfig(sizing="vol_target", vol_window=15, target_vol=0.1, max_leverage=1.5)
    before = bar_sizes(env, df)
    after = bar_sizes(env, perturb_after(df, t, factor, seed))
    np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
    assert not np.array_equal(before[t + 1 :], after[t + 1 :])  # the future did move


def test_prepare_builds_the_configured_sizes(ohlcv_frame, frac_config) -> None:
    full = prepare(frac_config, ohlcv=ohlcv_frame).market
    assert torch.equal(full.size, torch.ones(len(full), dtype=torch.float64))
    cfg = frac_config.override(env={"sizing": "vol_target", "target_vol": 0.1, "vol_window": 20})
    data = prepare(cfg, ohlcv=ohlcv_frame)
    close = ohlcv_frame["close"].to_numpy()
    want = spec.sizes_vol_target(close, 20, 0.1, _bpy(ohlcv_frame), 1.0)
    np.testing.assert_array_equal(data.market.size.numpy(), want[data.features.lookback :])
    assert data.market.size.dtype == data.market.growth.dtype == torch.float64
    assert (data.market.size < 1).any() and (data.market.size > 0).all()
    joined = concat([data.market, full])
    assert torch.equal(joined.size, torch.cat([data.market.size, full.size]))


def _bpy(frame: pd.DataFrame) -> float:
    return bars_per_year(pd.DatetimeIndex(frame.index))


# --- accounting ----------------------------------------------------------------------------


def _three_bar_market() -> MarketData:
    """Fills at the close: growth 1.1, 0.9, 1.0; sizes 0.5, 0.75, 0.25 (then 1)."""
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    close = np.array([100.0, 110.0, 99.0, 99.0])
    frame = pd.DataFrame({"open": close, "high": close, "low": close, "close": close}, idx)
    size = np.array([0.5, 0.75, 0.25, 1.0])
    return MarketData.build(
        np.zeros((4, 1)), frame, np.zeros(4, np.int64), names=["f"], fill="close", size=size
    )


# hand-computed at 100 bps: notional 0 -> 0.5 -> 0.75 -> 0 (buy, hold while resized, sell)
THREE_COSTS = [0.5 * 0.01, 0.25 * 0.01, 0.75 * 0.01]
THREE_RETURNS = [0.995 * 1.05 - 1.0, 0.9975 * (1.0 - 0.075) - 1.0, 0.9925 - 1.0]


def test_cost_on_traded_notional_three_bars() -> None:
    m = _three_bar_market()
    cfg = EnvConfig(window=1, fill="close", cost_bps=100.0)
    actions = [BUY, HOLD, SELL]
    env = TradingEnv(m, cfg)
    env.reset()
    infos = [env.step(a)[-1] for a in actions]
    np.testing.assert_allclose([i["cost"] for i in infos], THREE_COSTS, rtol=1e-12)
    np.testing.assert_allclose([i["step_return"] for i in infos], THREE_RETURNS, rtol=1e-12)
    assert [i["notional"] for i in infos] == [0.5, 0.75, 0.0]
    vec = VectorTradingEnv(m, cfg, 1, generator=_gen())
    trs = [vec.step(torch.tensor([a])) for a in actions]
    assert [float(tr.cost[0]) for tr in trs] == [i["cost"] for i in infos]
    assert [float(tr.step_return[0]) for tr in trs] == [i["step_return"] for i in infos]
    res = simulate(m, np.array([1.0, 1.0, 0.0]) * m.size.numpy()[:3], 0, 2, cfg.cost_bps)
    np.testing.assert_array_equal(res.positions, [0.5, 0.75, 0.0])
    np.testing.assert_array_equal(res.costs, [i["cost"] for i in infos])
    np.testing.assert_array_equal(res.returns, [i["step_return"] for i in infos])
    unsized = simulate(m, np.array([1.0, 1.0, 0.0]), 0, 2, cfg.cost_bps)
    np.testing.assert_allclose(unsized.costs, [0.01, 0.0, 0.01])  # sides only: the old maths


def test_full_size_is_exactly_the_unsized_maths() -> None:
    rng = np.random.default_rng(0)
    side, new = rng.choice([-1.0, 0.0, 1.0], (2, 500))
    growth = np.exp(rng.normal(0, 0.02, 500))
    ret, cost, held = spec.sized_step(side, new, 1.0, np.ones(500), growth, 7.0)
    want_cost = spec.trade_cost(side, new, 7.0)
    np.testing.assert_array_equal(cost, want_cost)
    np.testing.assert_array_equal(ret, spec.step_return(new, growth, want_cost))
    np.testing.assert_array_equal(held, new)


def _parity(m: MarketData, cfg: EnvConfig, start: int, actions, reward=None) -> None:
    """Gym env, batched env and ``simulate`` of the sized notional on one action sequence."""
    stop = start + len(actions) - 1
    gym_env = TradingEnv(m, cfg, start=start, end=stop, reward=reward)
    gym_env.reset()
    vec = VectorTradingEnv(m, cfg, 1, generator=_gen(), start=start, end=stop, reward=reward)
    vec.t, vec.stop = torch.tensor([start]), torch.tensor([stop])
    infos, trs, rewards = [], [], []
    for a in actions:
        _, r, _, _, info = gym_env.step(int(a))
        infos.append(info)
        rewards.append(r)
        trs.append(vec.step(torch.tensor([int(a)])))
    gym_ret = np.array([i["step_return"] for i in infos])
    gym_cost = np.array([i["cost"] for i in infos])
    np.testing.assert_array_equal([float(tr.step_return[0]) for tr in trs], gym_ret)
    np.testing.assert_array_equal([float(tr.cost[0]) for tr in trs], gym_cost)
    assert [float(tr.reward[0]) for tr in trs] == [float(np.float32(r)) for r in rewards]
    sides = spec.positions_from_actions(np.asarray(actions), cfg.allow_short)
    size = m.size.numpy()[start : stop + 1]
    res = simulate(m, sides * size, start, stop, cfg.cost_bps)
    np.testing.assert_array_equal(res.returns, gym_ret)
    np.testing.assert_array_equal(res.costs, gym_cost)
    np.testing.assert_array_equal(res.positions, [i["notional"] for i in infos])
    np.testing.assert_allclose(res.equity[-1], gym_env.equity, rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    allow_short=st.booleans(),
    fill=st.sampled_from(["next_open", "close"]),
)
def test_parity_with_vol_targeting(market_factory, seed: int, allow_short: bool, fill) -> None:
    m = _vol_market(market_factory, 120, seed % 97, fill)
    cfg = EnvConfig(window=8, allow_short=allow_short, fill=fill, cost_bps=9.0)
    rng = np.random.default_rng(seed)
    first, last = decision_range(m, cfg.window, fill, 0, len(m))
    start = int(rng.integers(first, first + 30))
    _parity(m, cfg, start, rng.integers(0, 3, last - start + 1))


def test_parity_with_vol_targeting_and_the_regime_reward(market_factory) -> None:
    m = _vol_market(market_factory, 150, 5)
    cfg = EnvConfig(window=6, allow_short=True, cost_bps=10.0)
    reward = RewardConfig(kind="regime", overtrading_penalty=1e-3, missed_uptrend_penalty=5e-4)
    actions = np.random.default_rng(1).integers(0, 3, 100)
    _parity(m, cfg, 20, actions, reward)


def test_regime_reward_is_on_notional_and_resizing_is_not_overtrading(market_factory) -> None:
    """Gross return of ``side * size``, the cost on traded notional, the penalty on side changes."""
    m = _vol_market(market_factory, 80, 2)
    cfg = EnvConfig(window=5, cost_bps=20.0, reward_scale=1.0)
    plain = RewardConfig(
        kind="regime",
        uptrend_scale=1.0,
        downtrend_positive_scale=1.0,
        downtrend_negative_scale=1.0,
        cost_scale=1.0,
        overtrading_penalty=0.0,
        missed_uptrend_penalty=0.0,
    )
    pen = plain.model_copy(update={"overtrading_penalty": 0.01})
    growth, size = m.growth.numpy(), m.size.numpy()
    assert size[20] != size[21] != size[22]
    got = {}
    for name, rc in (("plain", plain), ("pen", pen)):
        env = TradingEnv(m, cfg, start=20, end=30, reward=rc)
        env.reset()
        got[name] = [env.step(a)[1:] for a in (BUY, HOLD, BUY, SELL)]
    for k, (r, *_, info) in enumerate(got["plain"]):
        t = 20 + k
        np.testing.assert_allclose(r, info["notional"] * (growth[t] - 1) - info["cost"], rtol=1e-12)
    assert got["plain"][1][-1]["cost"] > 0  # a resize while long pays its cost ...
    diff = [a[0] - b[0] for a, b in zip(got["plain"], got["pen"], strict=True)]
    np.testing.assert_allclose(diff, [0.01, 0.0, 0.0, 0.01], atol=1e-12)  # ... and no penalty
