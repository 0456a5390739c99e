"""The closed-form MLP gradients equal autograd's on the same double-DQN loss."""

import copy

import pytest
import torch

from regime_trader.agents.dqn import DQNAgent
from regime_trader.agents.mlp_grad import MLPGradient
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
