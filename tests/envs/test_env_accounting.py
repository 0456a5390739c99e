"""Accounting: env equity == vectorized backtest; costs; buy-and-hold; greedy path; prefix walk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from regime_trader.config import EnvConfig
from regime_trader.envs import spec
from regime_trader.envs.spec import BUY, HOLD, SELL
from regime_trader.envs.trading_env import TradingEnv
from regime_trader.evaluation.baselines import buy_and_hold
from regime_trader.nets import MLPQNet
from regime_trader.policy.backtest import (
    backtest_net,
    compose_walk,
    decision_range,
    simulate,
)


def _run_env(env: TradingEnv, actions: np.ndarray) -> tuple[list[dict], float]:
    env.reset(seed=0)
    infos = []
    for a in actions:
        *_, truncated, info = env.step(int(a))
        infos.append(info)
        if truncated:
            break
    return infos, env.equity


@pytest.mark.parametrize(
    ("allow_short", "fill", "seed"),
    [(False, "next_open", 0), (True, "next_open", 1), (False, "close", 2), (True, "close", 3)],
)
def test_env_equity_equals_simulate(
    market_factory, allow_short: bool, fill: str, seed: int
) -> None:
    m = market_factory(150, 3, seed=seed, fill=fill)
    cfg = EnvConfig(window=10, allow_short=allow_short, fill=fill, cost_bps=8.0)
    first, last = decision_range(m, cfg.window, fill, 0, len(m))
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 3, last - first + 1)
    infos, equity = _run_env(TradingEnv(m, cfg), actions)
    assert len(infos) == len(actions)
    positions = spec.positions_from_actions(actions, allow_short)
    res = simulate(m, positions, first, last, cfg.cost_bps, actions)
    np.testing.assert_array_equal(res.t, [i["t"] for i in infos])
    np.testing.assert_allclose(res.returns, [i["step_return"] for i in infos], rtol=1e-12)
    np.testing.assert_allclose(res.costs, [i["cost"] for i in infos], rtol=1e-12, atol=0)
    np.testing.assert_allclose(equity, np.prod(1.0 + res.returns), rtol=1e-12)
    np.testing.assert_allclose(res.equity[-1], equity, rtol=1e-12)
    np.testing.assert_allclose(res.fill_prices, m.fill[first : last + 1])


def test_every_position_change_pays_its_cost(market) -> None:
    bps = 5.0
    cfg = EnvConfig(window=10, allow_short=True, cost_bps=bps)
    env = TradingEnv(market, cfg)
    env.reset()
    growth = market.growth.numpy()
    rng = np.random.default_rng(9)
    pos, changes, truncated = 0.0, 0, False
    while not truncated:
        a = int(rng.integers(0, 3))
        t = env.t
        *_, truncated, info = env.step(a)
        new = env.position
        want_cost = abs(new - pos) * bps * 1e-4
        assert info["cost"] == pytest.approx(want_cost, abs=1e-18)
        if new == pos:
            assert info["cost"] == 0.0
        else:
            changes += 1
            assert info["cost"] > 0.0
        want = (1 - want_cost) * (1 + new * (growth[t] - 1)) - 1
        assert info["step_return"] == pytest.approx(want, rel=1e-12, abs=1e-16)
        pos = new
    assert changes > 50  # the random walk of actions really traded (incl. long <-> short)


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("bps", [0.0, 5.0, 25.0])
def test_buy_and_hold_through_the_env(market_factory, fill: str, bps: float) -> None:
    m = market_factory(120, 2, seed=4, fill=fill)
    cfg = EnvConfig(window=10, fill=fill, cost_bps=bps)
    env = TradingEnv(m, cfg)
    first, last = env.first, env.last
    actions = np.full(last - first + 1, HOLD)
    actions[0] = BUY
    infos, equity = _run_env(env, actions)
    assert infos[-1]["t"] == last
    cost = bps * 1e-4
    want = (1 - cost) * m.fill[last + 1] / m.fill[first] - 1
    assert equity - 1 == pytest.approx(want, rel=1e-12)
    assert sum(i["cost"] for i in infos) == pytest.approx(cost, abs=1e-18)
    if fill == "next_open":  # bought at the open after the first decision bar
        assert m.fill[first] == m.open[first + 1]
        assert m.fill[last + 1] == m.open[last + 2]
    else:
        assert m.fill[first] == m.close[first]
    # the buy-and-hold baseline through the vectorized accounting says the same
    res = simulate(m, buy_and_hold(m, first, last), first, last, bps)
    assert res.equity[-1] - 1 == pytest.approx(want, rel=1e-12)


def _mlp(window: int, n_features: int, seed: int) -> MLPQNet:
    torch.manual_seed(seed)
    net = MLPQNet(window, n_features, 1, (16,))
    with torch.no_grad():  # a sharper random policy: the position input matters
        for p in net.parameters():
            p.mul_(3.0)
    return net


@pytest.mark.parametrize(("allow_short", "seed"), [(False, 0), (True, 1), (False, 2), (True, 3)])
def test_backtest_net_follows_argmax_along_its_path(market, allow_short: bool, seed: int) -> None:
    cfg = EnvConfig(window=10, allow_short=allow_short, cost_bps=5.0)
    net = _mlp(cfg.window, market.n_features, seed)
    first, last = decision_range(market, cfg.window, cfg.fill, 100, 400)
    res = backtest_net(net, market, first, last, cfg)
    # explicit step-by-step loop: observe, argmax, move
    pos, actions, positions = 0.0, [], []
    with torch.no_grad():
        for t in range(first, last + 1):
            window = market.features[t - cfg.window + 1 : t + 1].unsqueeze(0)
            q = net(window, torch.tensor([[pos]], dtype=torch.float32))
            a = int(q.argmax(dim=1))
            pos = float(spec.target_position(np.float64(pos), a, allow_short))
            actions.append(a)
            positions.append(pos)
    np.testing.assert_array_equal(res.actions, actions)
    np.testing.assert_array_equal(res.positions, positions)
    np.testing.assert_array_equal(res.t, np.arange(first, last + 1))
    assert len(set(positions)) > 1, "pick a seed whose policy trades"
    # and the accounting is the simulate() of those positions
    ref = simulate(market, np.asarray(positions), first, last, cfg.cost_bps)
    np.testing.assert_allclose(res.returns, ref.returns, rtol=1e-12)
    # the env, fed the same actions, ends with the same equity
    env = TradingEnv(market, cfg, start=first, end=last)
    _, equity = _run_env(env, np.asarray(actions))
    np.testing.assert_allclose(res.equity[-1], equity, rtol=1e-12)
    assert net.training  # backtest_net restores the mode it found


class StatePolicy(torch.nn.Module):
    """Q-values that pick ``actions[position]`` whatever the window (one-hot by position)."""

    def __init__(self, actions: dict[float, int]) -> None:
        super().__init__()
        self.actions = actions
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, window: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        idx = torch.tensor([self.actions[float(p)] for p in state[:, 0]], dtype=torch.long)
        return torch.nn.functional.one_hot(idx, 3).float() + 0 * self.dummy


@pytest.mark.parametrize(
    ("allow_short", "policy", "want"),
    [
        (False, {0.0: HOLD, 1.0: HOLD}, [0, 0, 0, 0]),  # starts flat
        (False, {0.0: BUY, 1.0: HOLD}, [1, 1, 1, 1]),
        (False, {0.0: BUY, 1.0: SELL}, [1, 0, 1, 0]),
        (True, {-1.0: BUY, 0.0: SELL, 1.0: SELL}, [-1, 1, -1, 1]),
        (True, {-1.0: HOLD, 0.0: SELL, 1.0: BUY}, [-1, -1, -1, -1]),
    ],
)
def test_backtest_net_walks_state_dependent_policies(
    market, allow_short: bool, policy: dict[float, int], want: list[int]
) -> None:
    cfg = EnvConfig(window=10, allow_short=allow_short, cost_bps=5.0)
    first = 200
    res = backtest_net(StatePolicy(policy), market, first, first + 3, cfg)
    np.testing.assert_array_equal(res.positions, want)
    ref = simulate(market, np.asarray(want, float), first, first + 3, cfg.cost_bps)
    np.testing.assert_allclose(res.returns, ref.returns, rtol=1e-12)
    if want[0] == 0:
        assert res.costs[0] == 0.0 and res.returns[0] == 0.0


def _naive_walk(table: np.ndarray, start: int) -> np.ndarray:
    s, out = start, []
    for row in table:
        out.append(s)
        s = int(row[s])
    return np.array(out, dtype=table.dtype)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 300),
    n_states=st.integers(1, 4),
    start=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_compose_walk_matches_naive_loop(n: int, n_states: int, start: int, seed: int) -> None:
    table = np.random.default_rng(seed).integers(0, n_states, (n, n_states)).astype(np.int64)
    start = start % n_states
    original = table.copy()
    np.testing.assert_array_equal(compose_walk(table, start), _naive_walk(table, start))
    np.testing.assert_array_equal(table, original)  # input left untouched


def test_compose_walk_small_example() -> None:
    # states 0 flat, 1 long; row i maps state-before to state-after
    table = np.array([[1, 1], [0, 1], [0, 0], [1, 0], [0, 1]])
    np.testing.assert_array_equal(compose_walk(table, 0), [0, 1, 1, 0, 1])
    np.testing.assert_array_equal(compose_walk(table, 1), [1, 1, 1, 0, 1])


def test_sell_in_flat_long_only_is_a_no_op(market) -> None:
    cfg = EnvConfig(window=10)
    env = TradingEnv(market, cfg)
    infos, equity = _run_env(env, np.full(50, SELL))
    assert all(i["cost"] == 0.0 and i["step_return"] == 0.0 for i in infos)
    assert equity == 1.0
