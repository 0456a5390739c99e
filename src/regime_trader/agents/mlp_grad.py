"""Closed-form double-DQN gradients for the baseline MLP, in torch (used off the CPU).

For a ReLU MLP the backward pass is a handful of matrix products. Writing it out skips the
autograd graph, which on a CPU dominates the cost of a 32-sample update (tens of tiny ops,
each with dispatcher overhead). The loss is exactly `DQNAgent.loss` (weighted Huber TD error
against the double-DQN target); `tests/agents/test_agent_mlp_grad.py` holds its gradients
equal to autograd's. Other networks use autograd; on a CPU the agent uses the NumPy
version of the same computation (`agents/mlp_numpy.py`), which is faster there.
"""

from __future__ import annotations

import torch
from torch import nn

from regime_trader.nets.mlp import MLPQNet
from regime_trader.types import Batch


def linear_layers(net: nn.Module) -> list[nn.Linear]:
    """The network's `nn.Linear` layers, input to output."""
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def _forward(layers: list[nn.Linear], x: torch.Tensor) -> list[torch.Tensor]:
    """Activations ``[input, hidden_1, ..., q]`` (hidden ones after ReLU)."""
    acts = [x]
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        x = torch.addmm(layer.bias, x, layer.weight.t())
        if i < last:
            x = x.relu_()
        acts.append(x)
    return acts


def _grad(param: torch.Tensor) -> torch.Tensor:
    """The parameter's ``.grad`` buffer, allocated once and overwritten in place."""
    if param.grad is None:
        param.grad = torch.empty_like(param)
    return param.grad


class MLPGradient:
    """Computes the TD loss and writes ``.grad`` of every online parameter, without autograd.

    Args:
        net: the online `MLPQNet`.
        target: its target copy.
        gamma: discount factor.
    """

    def __init__(self, net: MLPQNet, target: MLPQNet, gamma: float) -> None:
        self.layers, self.target_layers, self.gamma = (
            linear_layers(net),
            linear_layers(target),
            gamma,
        )

    @torch.no_grad()
    def __call__(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and per-sample ``|TD error|``; gradients are left in the parameters' ``.grad``."""
        n = batch.action.shape[0]
        x = torch.cat(
            [
                torch.cat([batch.window, batch.next_window]).flatten(1),
                torch.cat([batch.state, batch.next_state]),
            ],
            dim=1,
        )
        acts = _forward(self.layers, x)
        q_all = acts[-1]
        best = q_all[n:].argmax(dim=1, keepdim=True)
        next_q = _forward(self.target_layers, x[n:])[-1].gather(1, best).squeeze(1)
        y = torch.addcmul(batch.reward, 1.0 - batch.done, next_q, value=self.gamma)
        action = batch.action.unsqueeze(1)
        diff = q_all[:n].gather(1, action).squeeze(1) - y
        abs_diff = diff.abs()
        clipped = abs_diff.clamp(max=1.0)
        loss = (clipped * (abs_diff - 0.5 * clipped)).dot(batch.weights) / n  # mean weighted Huber
        g = diff.clamp(-1.0, 1.0).mul_(batch.weights).div_(n).unsqueeze(1)
        delta = torch.zeros_like(q_all[:n]).scatter_(1, action, g)
        for i in range(len(self.layers) - 1, -1, -1):
            layer, below = self.layers[i], acts[i][:n]
            torch.mm(delta.t(), below, out=_grad(layer.weight))
            torch.sum(delta, 0, out=_grad(layer.bias))
            if i:  # through the ReLU: keep the gradient where the activation was positive
                delta = torch.ops.aten.threshold_backward(delta @ layer.weight, below, 0.0)
        return loss, abs_diff
