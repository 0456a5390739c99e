"""Double DQN loss, soft target updates, exploration and index-based replay."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from regime_trader.agents import DQNAgent, linear_epsilon
from regime_trader.agents.exploration import epsilon_greedy
from regime_trader.config import AgentConfig, EnvConfig
from regime_trader.envs.vector_env import VectorTradingEnv
from regime_trader.nets import MLPQNet
from regime_trader.replay import IndexStorage, ReplayBuffer
from regime_trader.types import Batch


class LastBarNet(nn.Module):
    """``Q(window, state) = scale * window[:, -1, :3] + bias + state``: values set by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, window: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.scale * window[:, -1, :3] + self.bias + state


def _win(rows: list[list[float]]) -> torch.Tensor:
    """``[B, 2, 3]`` windows whose last bar is ``rows`` (the first bar is noise)."""
    last = torch.tensor(rows, dtype=torch.float32)
    return torch.stack([torch.full_like(last, 9.0), last], dim=1)


def _batch() -> Batch:
    return Batch(
        window=_win([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [2.0, 2.5, -3.0]]),
        state=torch.tensor([[0.0], [1.0], [0.0]]),
        action=torch.tensor([2, 0, 1]),
        reward=torch.tensor([0.5, -1.0, 2.0]),
        next_window=_win([[1.0, 3.0, 2.0], [4.0, 0.0, 1.0], [0.0, 0.0, 5.0]]),
        next_state=torch.tensor([[1.0], [0.0], [1.0]]),
        done=torch.tensor([0.0, 0.0, 1.0]),
        weights=torch.tensor([1.0, 0.5, 2.0]),
        indices=torch.arange(3),
        regime=torch.zeros(3, dtype=torch.long),
    )


def _huber(x: float) -> float:
    return 0.5 * x * x if abs(x) < 1.0 else abs(x) - 0.5


def test_double_dqn_loss_matches_hand_computation() -> None:
    gamma = 0.9
    agent = DQNAgent(LastBarNet(), AgentConfig(gamma=gamma))
    with torch.no_grad():  # the target disagrees with the online net about the best action
        agent.target.scale.fill_(2.0)
        agent.target.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))
    b = _batch()
    # online Q(s, a) = window[-1] + state
    q_sa = [1.0 + 0.0 + 2.0, 0.5 + 1.0, 2.5 + 0.0]  # actions 2, 0, 1 -> 3.0, 1.5, 2.5
    # online Q(s') = next[-1] + next_state: [2,4,3], [4,0,1], [1,1,6] -> argmax 1, 0, 2
    # target Q(s') = 2*next[-1] + [5,0,0] + next_state: [8,7,5], [13,0,2], [6,1,11]
    next_q = [7.0, 13.0, 11.0]  # target at the online argmax (vanilla max would be 8, 13, 11)
    y = [0.5 + gamma * next_q[0], -1.0 + gamma * next_q[1], 2.0]  # third is terminal
    w = [1.0, 0.5, 2.0]
    want = np.mean([wi * _huber(q - yi) for wi, q, yi in zip(w, q_sa, y, strict=True)])
    got, td_abs = agent.loss(b)
    assert got.shape == ()
    expected_td = [abs(q - yi) for q, yi in zip(q_sa, y, strict=True)]
    np.testing.assert_allclose(td_abs.numpy(), expected_td, rtol=1e-5)
    assert float(got.detach()) == pytest.approx(want, rel=1e-6)
    vanilla_y = [0.5 + gamma * 8.0, -1.0 + gamma * 13.0, 2.0]
    vanilla = np.mean([wi * _huber(q - yi) for wi, q, yi in zip(w, q_sa, vanilla_y, strict=True)])
    assert abs(float(got.detach()) - vanilla) > 1e-3  # the test tells double from vanilla DQN
    # gradients flow into the online net only
    got.backward()
    assert agent.net.scale.grad is not None and agent.net.scale.grad.abs() > 0
    assert agent.target.scale.grad is None


def test_loss_small_td_errors_use_the_quadratic_branch() -> None:
    agent = DQNAgent(LastBarNet(), AgentConfig(gamma=0.5))
    b = _batch()._replace(
        reward=torch.tensor([2.8, 1.2, 2.3]), done=torch.ones(3), weights=torch.ones(3)
    )
    # q_sa = 3.0, 1.5, 2.5; y = reward (terminal) -> errors 0.2, 0.3, 0.2
    want = np.mean([0.5 * 0.2**2, 0.5 * 0.3**2, 0.5 * 0.2**2])
    assert float(agent.loss(b)[0].detach()) == pytest.approx(want, rel=1e-5)


def test_soft_update_moves_target_by_tau() -> None:
    tau = 0.125
    torch.manual_seed(0)
    agent = DQNAgent(MLPQNet(4, 3, 1, (8,)), AgentConfig(tau=tau))
    with torch.no_grad():
        for p in agent.target.parameters():
            p.add_(torch.randn_like(p))
    online = [p.detach().clone() for p in agent.net.parameters()]
    before = [p.detach().clone() for p in agent.target.parameters()]
    agent.soft_update()
    after = list(agent.target.parameters())
    for o, b, a in zip(online, before, after, strict=True):
        torch.testing.assert_close(a - b, tau * (o - b), rtol=1e-5, atol=1e-6)
        assert not torch.equal(a, b)
    for o, p in zip(online, agent.net.parameters(), strict=True):
        assert torch.equal(o, p)  # online untouched


def test_target_starts_as_a_frozen_copy() -> None:
    agent = DQNAgent(MLPQNet(4, 3, 1, (8,)), AgentConfig())
    for o, t in zip(agent.net.parameters(), agent.target.parameters(), strict=True):
        assert torch.equal(o, t)
        assert o is not t
        assert not t.requires_grad


def test_update_changes_online_and_moves_target() -> None:
    torch.manual_seed(1)
    agent = DQNAgent(MLPQNet(2, 3, 1, (8,)), AgentConfig(tau=0.5, lr=1e-2))
    b = _batch()._replace(weights=torch.ones(3))
    online0 = [p.detach().clone() for p in agent.net.parameters()]
    target0 = [p.detach().clone() for p in agent.target.parameters()]
    loss, td_abs = agent.update(b)
    assert not loss.requires_grad and td_abs.shape == (3,)
    for o0, t0, o1, t1 in zip(
        online0, target0, agent.net.parameters(), agent.target.parameters(), strict=True
    ):
        assert not torch.equal(o0, o1)
        torch.testing.assert_close(t1, t0 + 0.5 * (o1.detach() - t0), rtol=1e-5, atol=1e-6)


def test_epsilon_greedy_zero_is_greedy() -> None:
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(500, 3, generator=gen)
    for _ in range(3):
        np.testing.assert_array_equal(epsilon_greedy(q, 0.0, gen), q.argmax(dim=1))


def test_epsilon_greedy_one_is_uniform() -> None:
    gen = torch.Generator().manual_seed(1)
    n = 30_000
    q = torch.tensor([[5.0, 0.0, -1.0]]).repeat(n, 1)  # greedy would always pick 0
    counts = torch.bincount(epsilon_greedy(q, 1.0, gen), minlength=3).numpy() / n
    np.testing.assert_allclose(counts, 1 / 3, atol=0.015)


def test_epsilon_greedy_mixes_in_proportion() -> None:
    gen = torch.Generator().manual_seed(2)
    n = 30_000
    q = torch.tensor([[0.0, 5.0, -1.0]]).repeat(n, 1)
    counts = torch.bincount(epsilon_greedy(q, 0.3, gen), minlength=3).numpy() / n
    np.testing.assert_allclose(counts, [0.1, 0.7 + 0.1, 0.1], atol=0.015)


def test_epsilon_greedy_is_seeded() -> None:
    q = torch.zeros(100, 3)
    a = epsilon_greedy(q, 0.5, torch.Generator().manual_seed(7))
    b = epsilon_greedy(q, 0.5, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_linear_epsilon_schedule() -> None:
    kw = {"start": 1.0, "end": 0.05, "duration": 1000}
    assert linear_epsilon(0, **kw) == 1.0
    assert linear_epsilon(500, **kw) == pytest.approx(0.525)
    assert linear_epsilon(1000, **kw) == pytest.approx(0.05)
    assert linear_epsilon(10_000, **kw) == pytest.approx(0.05)
    values = [linear_epsilon(s, **kw) for s in range(0, 1200, 50)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert linear_epsilon(5, start=0.5, end=0.1, duration=0) == pytest.approx(0.1)


def _fields(ts: list[int]) -> dict[str, torch.Tensor]:
    t = torch.tensor(ts)
    return {
        "t": t,
        "position": t.float() / 10,
        "action": t % 3,
        "reward": -t.float(),
        "next_position": t.float() / 100,
        "done": torch.zeros(len(ts)),
        "regime": t % 4,
    }


def test_index_storage_wraps_around_at_capacity() -> None:
    s = IndexStorage(5)
    slots = s.add(**_fields([0, 1, 2]))
    assert slots.tolist() == [0, 1, 2]
    assert (len(s), s.cursor) == (3, 3)
    slots = s.add(**_fields([3, 4, 5, 6]))
    assert slots.tolist() == [3, 4, 0, 1]
    assert (len(s), s.cursor) == (5, 2)
    assert s.data["t"].tolist() == [5, 6, 2, 3, 4]  # oldest (0, 1) overwritten
    got = s.get(torch.tensor([0, 4]))
    assert got["t"].tolist() == [5, 4]
    torch.testing.assert_close(got["reward"], torch.tensor([-5.0, -4.0]))
    assert got["action"].dtype == torch.long and got["position"].dtype == torch.float32
    s.add(**_fields([7, 8, 9]))
    assert s.data["t"].tolist() == [5, 6, 7, 8, 9]
    assert (len(s), s.cursor) == (5, 0)
    # a state dict round-trips
    s2 = IndexStorage(5)
    s2.load_state_dict(s.state_dict())
    assert (len(s2), s2.cursor) == (5, 0)
    for k in IndexStorage.FIELDS:
        assert torch.equal(s2.data[k], s.data[k])


def test_replay_sample_gathers_windows_from_market(market) -> None:
    w = 10
    cfg = EnvConfig(window=w, episode_len=40)
    gen = torch.Generator().manual_seed(0)
    env = VectorTradingEnv(market, cfg, 8, generator=gen)
    buf = ReplayBuffer(market, w, 1000, generator=gen)
    stored = {}
    for _ in range(30):
        action = torch.randint(0, 3, (8,), generator=gen)
        tr = env.step(action)
        buf.add(tr)
        for i in range(8):
            stored[(int(tr.t[i]), float(tr.position[i]), int(tr.action[i]))] = (
                float(tr.reward[i]),
                float(tr.next_position[i]),
            )
    assert len(buf) == 240
    batch = buf.sample(256)
    feats = market.features
    assert batch.window.shape == (256, w, market.n_features)
    assert batch.next_window.shape == (256, w, market.n_features)
    assert batch.state.shape == (256, 1) and batch.next_state.shape == (256, 1)
    assert torch.equal(batch.weights, torch.ones(256))
    assert torch.equal(batch.done, torch.zeros(256))  # time limits always bootstrap
    ts = buf.storage.data["t"][batch.indices]
    for i in range(256):
        t = int(ts[i])
        assert torch.equal(batch.window[i], feats[t - w + 1 : t + 1])
        assert torch.equal(batch.next_window[i], feats[t - w + 2 : t + 2])  # ends at t+1
        key = (t, float(batch.state[i, 0]), int(batch.action[i]))
        assert key in stored
        reward, next_pos = stored[key]
        assert float(batch.reward[i]) == reward
        assert float(batch.next_state[i, 0]) == next_pos
        assert int(batch.regime[i]) == int(market.regimes[t])
    assert len(set(batch.indices.tolist())) > 100  # sampled across the buffer
