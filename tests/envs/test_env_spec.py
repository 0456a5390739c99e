"""The pure execution maths of `envs/spec.py`: positions, costs, step returns, fills."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regime_trader.envs import spec
from regime_trader.envs.spec import BUY, HOLD, SELL


def _t64(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# (position, action, allow_short) -> position after the action
TARGETS = {
    (0.0, HOLD, False): 0.0,
    (0.0, SELL, False): 0.0,
    (0.0, BUY, False): 1.0,
    (1.0, HOLD, False): 1.0,
    (1.0, SELL, False): 0.0,
    (1.0, BUY, False): 1.0,
    (-1.0, HOLD, True): -1.0,
    (-1.0, SELL, True): -1.0,
    (-1.0, BUY, True): 1.0,
    (0.0, HOLD, True): 0.0,
    (0.0, SELL, True): -1.0,
    (0.0, BUY, True): 1.0,
    (1.0, HOLD, True): 1.0,
    (1.0, SELL, True): -1.0,
    (1.0, BUY, True): 1.0,
}


def test_action_constants() -> None:
    assert (HOLD, SELL, BUY) == (0, 1, 2)
    assert spec.N_ACTIONS == 3
    assert spec.positions_for(False) == (0.0, 1.0)
    assert spec.positions_for(True) == (-1.0, 0.0, 1.0)


def test_targets_cover_every_reachable_combination() -> None:
    for allow_short in (False, True):
        for pos in spec.positions_for(allow_short):
            for action in (HOLD, SELL, BUY):
                assert (pos, action, allow_short) in TARGETS


@pytest.mark.parametrize(("position", "action", "allow_short"), sorted(TARGETS))
def test_target_position_numpy(position: float, action: int, allow_short: bool) -> None:
    got = spec.target_position(np.float64(position), np.int64(action), allow_short)
    assert float(got) == TARGETS[(position, action, allow_short)]


@pytest.mark.parametrize("allow_short", [False, True])
def test_target_position_vectorized_numpy_and_torch(allow_short: bool) -> None:
    keys = [k for k in sorted(TARGETS) if k[2] == allow_short]
    pos = np.array([k[0] for k in keys])
    act = np.array([k[1] for k in keys])
    want = np.array([TARGETS[k] for k in keys])
    np.testing.assert_array_equal(spec.target_position(pos, act, allow_short), want)
    got_t = spec.target_position(torch.tensor(pos), torch.tensor(act), allow_short)
    assert isinstance(got_t, torch.Tensor)
    assert got_t.dtype == torch.float64
    np.testing.assert_array_equal(got_t.numpy(), want)


@pytest.mark.parametrize(
    ("old", "new", "bps", "want"),
    [
        (0.0, 1.0, 5.0, 0.0005),
        (1.0, 0.0, 5.0, 0.0005),
        (1.0, 1.0, 5.0, 0.0),
        (0.0, 0.0, 5.0, 0.0),
        (-1.0, 1.0, 5.0, 0.001),
        (1.0, -1.0, 10.0, 0.002),
        (0.0, -1.0, 2.5, 0.00025),
        (0.0, 1.0, 0.0, 0.0),
    ],
)
def test_trade_cost(old: float, new: float, bps: float, want: float) -> None:
    assert spec.trade_cost(np.float64(old), np.float64(new), bps) == pytest.approx(want, abs=1e-15)
    got_t = spec.trade_cost(_t64(old), _t64(new), bps)
    assert float(got_t) == pytest.approx(want, abs=1e-15)


@pytest.mark.parametrize(
    ("new", "growth", "cost", "want"),
    [
        (1.0, 1.02, 0.0005, 0.9995 * 1.02 - 1.0),  # long: pay cost, ride +2%
        (1.0, 0.97, 0.0, -0.03),  # long, no trade
        (0.0, 1.5, 0.0005, -0.0005),  # flat: only the cost of getting out
        (0.0, 0.5, 0.0, 0.0),  # flat, no trade: price irrelevant
        (-1.0, 1.02, 0.001, 0.999 * 0.98 - 1.0),  # short through a rise
        (-1.0, 0.9, 0.0, 0.1),  # short through a fall
    ],
)
def test_step_return_hand_computed(new: float, growth: float, cost: float, want: float) -> None:
    assert spec.step_return(new, growth, cost) == pytest.approx(want, rel=1e-12, abs=1e-15)
    got_t = spec.step_return(_t64(new), _t64(growth), _t64(cost))
    assert float(got_t) == pytest.approx(want, rel=1e-12, abs=1e-15)


def _naive_positions(actions: np.ndarray, allow_short: bool, initial: float) -> np.ndarray:
    out, pos = [], initial
    for a in actions:
        if a == BUY:
            pos = 1.0
        elif a == SELL:
            pos = -1.0 if allow_short else 0.0
        out.append(pos)
    return np.array(out, dtype=np.float64)


@settings(max_examples=200, deadline=None)
@given(
    actions=hnp.arrays(np.int64, st.integers(1, 60), elements=st.integers(0, 2)),
    allow_short=st.booleans(),
    initial_index=st.integers(0, 2),
)
def test_positions_from_actions_matches_loop(
    actions: np.ndarray, allow_short: bool, initial_index: int
) -> None:
    states = spec.positions_for(allow_short)
    initial = states[initial_index % len(states)]
    got = spec.positions_from_actions(actions, allow_short, initial=initial)
    want = _naive_positions(actions, allow_short, initial)
    np.testing.assert_array_equal(got, want)
    # and the same as applying target_position step by step
    pos, stepwise = initial, []
    for a in actions:
        pos = float(spec.target_position(np.float64(pos), a, allow_short))
        stepwise.append(pos)
    np.testing.assert_array_equal(got, stepwise)


def test_positions_from_actions_examples() -> None:
    a = np.array([HOLD, BUY, HOLD, HOLD, SELL, HOLD, BUY, BUY])
    np.testing.assert_array_equal(spec.positions_from_actions(a, False), [0, 1, 1, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(spec.positions_from_actions(a, True), [0, 1, 1, 1, -1, -1, 1, 1])
    np.testing.assert_array_equal(
        spec.positions_from_actions(np.array([HOLD, HOLD, SELL]), False, initial=1.0), [1, 1, 0]
    )


def test_simulate_positions_hand_computed() -> None:
    positions = np.array([1.0, 1.0, 0.0, -1.0, -1.0])
    growth = np.array([1.01, 0.98, 1.05, 0.9, 1.1])
    bps = 10.0
    c = 1e-3
    want_costs = np.array([c, 0.0, c, c, 0.0])
    want_returns = np.array(
        [
            (1 - c) * 1.01 - 1,
            0.98 - 1,
            (1 - c) * 1.0 - 1,
            (1 - c) * (1 - (0.9 - 1)) - 1,
            1 - (1.1 - 1) - 1,
        ]
    )
    returns, costs = spec.simulate_positions(positions, growth, bps)
    np.testing.assert_allclose(costs, want_costs, rtol=0, atol=1e-15)
    np.testing.assert_allclose(returns, want_returns, rtol=1e-12, atol=1e-15)
    # starting long: the first step pays nothing
    returns, costs = spec.simulate_positions(positions, growth, bps, initial=1.0)
    assert costs[0] == 0.0
    assert returns[0] == pytest.approx(0.01, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    positions=hnp.arrays(np.float64, st.integers(1, 40), elements=st.sampled_from([-1.0, 0, 1])),
    seed=st.integers(0, 2**16),
    bps=st.floats(0, 50),
)
def test_simulate_positions_matches_loop(positions: np.ndarray, seed: int, bps: float) -> None:
    growth = np.exp(np.random.default_rng(seed).normal(0, 0.02, len(positions)))
    returns, costs = spec.simulate_positions(positions, growth, bps)
    prev = 0.0
    for i, p in enumerate(positions):
        cost = abs(p - prev) * bps * 1e-4
        assert costs[i] == pytest.approx(cost, abs=1e-15)
        assert returns[i] == pytest.approx((1 - cost) * (1 + p * (growth[i] - 1)) - 1, abs=1e-14)
        prev = p


def test_fill_prices_next_open_and_close() -> None:
    open_ = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    close = np.array([10.5, 11.5, 12.5, 13.5, 14.5])
    nxt = spec.fill_prices(open_, close, "next_open")
    np.testing.assert_array_equal(nxt[:-1], [11.0, 12.0, 13.0, 14.0])  # decision t -> open[t+1]
    assert np.isnan(nxt[-1])
    cls = spec.fill_prices(open_, close, "close")
    np.testing.assert_array_equal(cls, close)  # decision t -> close[t]
    cls[0] = -1.0
    assert close[0] == 10.5  # a copy, not a view
    with pytest.raises(ValueError, match="fill"):
        spec.fill_prices(open_, close, "vwap")


def test_growth_factors_and_last_decision() -> None:
    open_ = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    close = np.array([10.5, 11.5, 12.5, 13.5, 14.5])
    n = len(open_)
    g = spec.growth_factors(spec.fill_prices(open_, close, "next_open"))
    # decision t fills at open[t+1] and is marked at the next fill, open[t+2]
    np.testing.assert_allclose(g[:3], [12 / 11, 13 / 12, 14 / 13], rtol=1e-15)
    assert np.isnan(g[3:]).all()
    assert spec.last_decision(n, "next_open") == 2
    assert np.isfinite(g[spec.last_decision(n, "next_open")])
    g = spec.growth_factors(spec.fill_prices(open_, close, "close"))
    np.testing.assert_allclose(g[:4], close[1:] / close[:-1], rtol=1e-15)
    assert np.isnan(g[4])
    assert spec.last_decision(n, "close") == 3
    assert np.isfinite(g[spec.last_decision(n, "close")])


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_market_data_uses_the_fill_mode(market_factory, fill: str) -> None:
    m = market_factory(40, 2, seed=3, fill=fill)
    want_fill = np.concatenate([m.open[1:], [np.nan]]) if fill == "next_open" else m.close
    np.testing.assert_array_equal(m.fill, want_fill)
    growth = m.growth.numpy()
    last = spec.last_decision(len(m), fill)
    np.testing.assert_allclose(growth[: last + 1], m.fill[1 : last + 2] / m.fill[: last + 1])
    assert np.isnan(growth[last + 1 :]).all()
