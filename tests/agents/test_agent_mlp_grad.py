"""The closed-form MLP gradients (torch and NumPy) equal autograd's on the same double-DQN
loss; the agent's cached fused Adam equals `torch.optim.Adam`."""

import copy

import pytest
import torch

from regime_trader.agents.dqn import DQNAgent
from regime_trader.agents.mlp_grad import MLPGradient
from regime_trader.agents.mlp_numpy import NumpyMLPGradient
from regime_trader.config import AgentConfig
from regime_trader.nets.mlp import MLPQNet
from regime_trader.types import Batch


def _batch(gen: torch.Generator, b: int = 16, w: int = 5, f: int = 4) -> Batch:
    def r(*shape):
        return torch.randn(*shape, generator=gen)

    return Batch(
        window=r(b, w, f),
        state=torch.randint(0, 2, (b, 1), generator=gen).float(),
        action=torch.randint(0, 3, (b,), generator=gen),
        reward=r(b) * 3,
        next_window=r(b, w, f),
        next_state=torch.randint(0, 2, (b, 1), generator=gen).float(),
        done=(torch.rand(b, generator=gen) < 0.2).float(),
        weights=torch.rand(b, generator=gen) + 0.5,
        indices=torch.arange(b),
        regime=torch.zeros(b, dtype=torch.long),
    )


@pytest.mark.parametrize("hidden", [(8,), (16, 8), (32, 16, 8)])
def test_gradients_match_autograd(hidden):
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(0)
    net = MLPQNet(5, 4, 1, hidden)
    agent = DQNAgent(net, AgentConfig(gamma=0.9))
    # perturb the target so online and target differ
    with torch.no_grad():
        for p in agent.target.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    batch = _batch(gen)
    loss_auto, td_auto = agent.loss(batch)
    agent.optimizer.zero_grad(set_to_none=True)
    loss_auto.backward()
    auto = [p.grad.clone() for p in net.parameters()]
    fast_loss, fast_td = MLPGradient(net, agent.target, 0.9)(batch)
    torch.testing.assert_close(fast_loss, loss_auto.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_td, td_auto, rtol=1e-5, atol=1e-6)
    for a, p in zip(auto, net.parameters(), strict=True):
        torch.testing.assert_close(p.grad, a, rtol=1e-4, atol=1e-6)


def test_optimizer_step_equals_torch_adam():
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(0)
    agent = DQNAgent(MLPQNet(5, 4, 1, (8,)), AgentConfig(lr=1e-2))
    twin = copy.deepcopy(agent.net)
    opt = torch.optim.Adam(twin.parameters(), lr=1e-2)
    for _ in range(5):
        for p, q in zip(agent.net.parameters(), twin.parameters(), strict=True):
            g = torch.randn(p.shape, generator=gen)
            p.grad, q.grad = g.clone(), g.clone()
        agent._optimizer_step()
        opt.step()
    for p, q in zip(agent.net.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_clip_equals_torch_clip_grad_norm(scale):
    gen = torch.Generator().manual_seed(3)
    agent = DQNAgent(MLPQNet(5, 4, 1, (8,)), AgentConfig(max_grad_norm=1.0))
    twin = copy.deepcopy(agent.net)
    for p, q in zip(agent.net.parameters(), twin.parameters(), strict=True):
        g = torch.randn(p.shape, generator=gen) * scale
        p.grad, q.grad = g.clone(), g.clone()
    agent._clip_gradients()
    torch.nn.utils.clip_grad_norm_(list(twin.parameters()), 1.0)
    for p, q in zip(agent.net.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-9)


def _replay_like_batch(gen: torch.Generator, b: int = 16, w: int = 5, f: int = 4) -> Batch:
    """Windows as the replay buffer gathers them: strided views of one [B, W + 1, F] block."""
    both = torch.randn(b, w + 1, f, generator=gen)
    return _batch(gen, b, w, f)._replace(window=both[:, :-1], next_window=both[:, 1:])


def _autograd_grads(agent: DQNAgent, batch: Batch, max_norm: float) -> list[torch.Tensor]:
    twin = copy.deepcopy(agent)
    loss, _ = twin.loss(batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(twin.net.parameters()), max_norm)
    return [p.grad.clone() for p in twin.net.parameters()]


@pytest.mark.parametrize("hidden", [(8,), (16, 8), (32, 16, 8)])
@pytest.mark.parametrize("max_norm", [1e3, 1e-2])  # no clipping / clipping
def test_numpy_gradients_match_autograd(hidden, max_norm):
    gen = torch.Generator().manual_seed(4)
    torch.manual_seed(0)
    agent = DQNAgent(MLPQNet(5, 4, 1, hidden), AgentConfig(gamma=0.9, max_grad_norm=max_norm))
    assert isinstance(agent._fast, NumpyMLPGradient)
    with torch.no_grad():
        for p in agent.target.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    for batch in (_batch(gen), _replay_like_batch(gen)):
        expected = _autograd_grads(agent, batch, max_norm)
        loss_auto, td_auto = agent.loss(batch)
        loss, td = agent._fast(batch)
        torch.testing.assert_close(loss, loss_auto.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(td, td_auto, rtol=1e-5, atol=1e-6)
        for e, p in zip(expected, agent.net.parameters(), strict=True):
            torch.testing.assert_close(p.grad, e, rtol=1e-4, atol=1e-7)


def test_numpy_gradients_follow_weight_updates():
    """The transposed first-layer copy is refreshed: after steps, still equal to autograd."""
    gen = torch.Generator().manual_seed(5)
    torch.manual_seed(0)
    agent = DQNAgent(MLPQNet(5, 4, 1, (8,)), AgentConfig(lr=1e-2, max_grad_norm=1e3))
    for _ in range(3):
        agent.update(_batch(gen))
    batch = _batch(gen)
    expected = _autograd_grads(agent, batch, 1e3)
    agent._fast(batch)
    for e, p in zip(expected, agent.net.parameters(), strict=True):
        torch.testing.assert_close(p.grad, e, rtol=1e-4, atol=1e-7)


def test_saved_optimizer_state_resumes_exactly_and_loads_into_torch_adam():
    gen = torch.Generator().manual_seed(6)
    torch.manual_seed(0)
    cfg = AgentConfig(lr=1e-2)
    agent = DQNAgent(MLPQNet(5, 4, 1, (8,)), cfg)
    batches = [_batch(gen) for _ in range(6)]
    for b in batches[:3]:
        agent.update(b)
    state = copy.deepcopy(agent.state_dict())
    steps = [s["step"] for s in state["optimizer"]["state"].values()]
    assert len({id(t) for t in steps}) == len(steps), "one step tensor per parameter"
    assert all(float(t) == 3 for t in steps)
    resumed = DQNAgent(MLPQNet(5, 4, 1, (8,)), cfg)
    resumed.load_state_dict(state)
    for b in batches[3:]:
        agent.update(b)
        resumed.update(b)
    for p, q in zip(agent.net.parameters(), resumed.net.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert all(float(s["step"]) == 6 for s in resumed.optimizer.state.values())
    plain = torch.optim.Adam(copy.deepcopy(agent.net).parameters(), lr=1e-2)
    plain.load_state_dict(state["optimizer"])  # a stock torch Adam takes the saved state
