"""The baseline ("original") Q-network: an MLP over the flattened window plus the agent state."""

from __future__ import annotations

import torch
from torch import nn

from regime_trader.config import AgentConfig


class MLPQNet(nn.Module):
    """``Q(window, state) = MLP([flatten(window), state])``.

    Args:
        window: W, bars per observation.
        n_features: F.
        state_dim: S, agent-state size.
        hidden: hidden layer sizes.
        n_actions: number of discrete actions.
    """

    def __init__(
        self,
        window: int,
        n_features: int,
        state_dim: int = 1,
        hidden: tuple[int, ...] = (128, 128),
        n_actions: int = 3,
    ) -> None:
        super().__init__()
        self.state_dim = state_dim
        layers: list[nn.Module] = []
        width = window * n_features + state_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_actions))
        self.body = nn.Sequential(*layers)

    def forward(self, window: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``[B, W, F], [B, S] -> [B, A]``."""
        return self.body(torch.cat([window.flatten(1), state], dim=1))


def build_net(cfg: AgentConfig, window: int, n_features: int) -> nn.Module:
    """The network named by ``cfg.net``."""
    if cfg.net == "mlp":
        return MLPQNet(window, n_features, 1, tuple(cfg.hidden))
    if cfg.net == "enhanced":
        from regime_trader.nets.enhanced_dqn import EnhancedDQN

        return EnhancedDQN(
            window,
            n_features,
            1,
            d_model=cfg.d_model,
            heads=cfg.heads,
            lstm_hidden=cfg.d_model,
            lstm_layers=cfg.lstm_layers,
            lstm_steps=cfg.lstm_steps,
        )
    if cfg.net == "ensemble":
        from regime_trader.nets.ensemble import EnsembleTrader

        return EnsembleTrader(window, n_features, 1, mode=cfg.ensemble_mode)
    raise ValueError(f"unknown net {cfg.net!r}")
