"""Double DQN: the loss, the optimiser step and the soft target update, each its own method."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from regime_trader.agents.mlp_grad import MLPGradient
from regime_trader.agents.mlp_numpy import NumpyMLPGradient
from regime_trader.config import AgentConfig
from regime_trader.nets.mlp import MLPQNet
from regime_trader.types import Batch


def split_output(out: torch.Tensor | tuple) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(q, regime_logits)`` from a network's output (logits None for plain Q-networks)."""
    if isinstance(out, tuple):
        return out[0], out[1]
    return out, None


def _closed_form_gradient(
    net: nn.Module, target: nn.Module, cfg: AgentConfig
) -> MLPGradient | NumpyMLPGradient | None:
    """Closed-form gradients for the baseline MLP (the same loss as `DQNAgent.loss`): NumPy on
    a CPU (it also clips), torch elsewhere; None (autograd) for other networks. See
    agents/mlp_numpy.py and agents/mlp_grad.py."""
    if not isinstance(net, MLPQNet) or type(net) is not MLPQNet or not isinstance(target, MLPQNet):
        return None  # (subclasses may change the forward pass)
    if NumpyMLPGradient.supports(net, next(net.parameters()).device):
        return NumpyMLPGradient(net, target, cfg.gamma, cfg.max_grad_norm)
    return MLPGradient(net, target, cfg.gamma)


def regime_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over bars with a known regime (label >= 0); no host sync."""
    known = labels >= 0
    ce = F.cross_entropy(logits, labels.clamp(min=0), reduction="none")
    return (ce * known).sum() / known.sum().clamp(min=1)


class DQNAgent:
    """Online and target networks with Adam and Polyak (soft, rate ``tau``) target updates.

    Args:
        net: the online Q-network ``(window, state) -> [B, A]``.
        cfg: hyper-parameters.
    """

    def __init__(self, net: nn.Module, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.net = net
        self.target = copy.deepcopy(net).requires_grad_(False)
        # fused Adam: one kernel for all parameters (CPU and CUDA); the default CPU path
        # loops over parameters in Python.
        self.optimizer = torch.optim.Adam(
            net.parameters(), lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps, fused=True
        )
        self._online: list[torch.Tensor] = list(net.parameters())
        self._target: list[torch.Tensor] = list(self.target.parameters())
        self._fast = _closed_form_gradient(net, self.target, cfg)

    @torch.no_grad()
    def q_values(self, window: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Q-values of the online network, without gradients."""
        return split_output(self.net(window, state))[0]

    def loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted Huber TD loss with the double-DQN target.

        ``y = r + gamma * (1 - done) * Q_target(s', argmax_a Q_online(s', a))``. Networks with a
        regime detector (returning ``(q, regime_logits)``) add ``regime_loss_weight`` times the
        cross-entropy against the rule-based labels (bars labelled -1 are ignored).

        Returns:
            The loss and the per-sample ``|TD error|`` (detached; for prioritized replay).
        """
        n = batch.action.shape[0]
        # one online pass over [s; s'] (the s' half only selects the next action)
        q_all, logits = split_output(
            self.net(
                torch.cat([batch.window, batch.next_window]),
                torch.cat([batch.state, batch.next_state]),
            )
        )
        with torch.no_grad():
            best = q_all[n:].argmax(dim=1, keepdim=True)
            next_q = split_output(self.target(batch.next_window, batch.next_state))[0]
            next_q = next_q.gather(1, best).squeeze(1)
            y = batch.reward + self.cfg.gamma * (1.0 - batch.done) * next_q
        q = q_all[:n].gather(1, batch.action.unsqueeze(1)).squeeze(1)
        td = F.smooth_l1_loss(q, y, reduction="none")
        loss = (td * batch.weights).mean()
        if logits is not None and self.cfg.regime_loss_weight > 0:
            loss = loss + self.cfg.regime_loss_weight * regime_loss(logits[:n], batch.regime)
        return loss, (q - y).detach().abs()

    def update(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """One gradient step then one soft target update.

        Returns:
            The loss and per-sample ``|TD error|`` (tensors; no host sync).
        """
        if self._fast is not None:
            loss, td_abs = self._fast(batch)
        else:
            loss, td_abs = self.loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        if not isinstance(self._fast, NumpyMLPGradient):  # that one clips in place
            self._clip_gradients()
        self._optimizer_step()
        self.soft_update()
        return loss.detach(), td_abs

    def _clip_gradients(self) -> None:
        """Scale gradients to a global L2 norm of at most ``max_grad_norm``."""
        torch.nn.utils.clip_grad_norm_(self._online, self.cfg.max_grad_norm, foreach=True)

    def _optimizer_step(self) -> None:
        """One Adam step (torch's fused kernel: one call for all parameters)."""
        self.optimizer.step()

    @torch.no_grad()
    def soft_update(self) -> None:
        """``target <- target + tau * (online - target)`` in one fused call."""
        torch._foreach_lerp_(self._target, self._online, self.cfg.tau)

    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
