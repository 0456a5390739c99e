"""An ensemble of regime specialists combined by a learned regime gate.

Shapes: ``B`` batch, ``W`` bars, ``F`` features, ``S`` agent-state size, ``K`` regimes (4),
``A`` actions (3). Specialist ``k`` belongs to regime label ``k`` (0 uptrend, 1 downtrend,
2 plateau, 3 oscillating), the same order as the gate's logits and the rule-based labels.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from regime_trader.nets.enhanced_dqn import EnhancedCore, check_inputs, check_sizes

Mode = Literal["weighted", "switching", "voting"]
MODES: tuple[str, ...] = get_args(Mode)

# Specialists are four full networks; small defaults keep the ensemble near one EnhancedDQN.
_SPECIALIST_DEFAULTS: dict[str, Any] = {
    "d_model": 16,
    "heads": 2,
    "lstm_hidden": 16,
    "lstm_layers": 1,
    "lstm_steps": 4,
    "head_hidden": 32,
    "causal": False,
    "dropout": 0.0,
}


class EnsembleTrader(nn.Module):
    """Four `EnhancedDQN` specialists mixed by a gate that classifies the window's regime.

    The specialists are independent networks (their own weights, no sharing) evaluated as one
    `EnhancedCore` with a group axis of four: one batched matmul per layer for all of them.

    The gate is an MLP over the flattened window, giving regime logits ``[B, K]``; with
    ``p = softmax(gate_logits)`` and specialist Q-values ``Q_k [B, A]`` the modes are:

    * ``"weighted"``: ``q = sum_k p_k Q_k``. Differentiable everywhere; train in this mode.
    * ``"switching"``: ``q = Q_{argmax_k p_k}``. Forward is an exact hard switch; the backward
      pass is straight-through (the gate gets the gradient of the soft mixture), so the
      gate still learns from the TD loss. Unselected specialists get no gradient.
    * ``"voting"``: every specialist votes for its greedy action with weight ``p_k``;
      ``q[b, a] = sum_k p_k [argmax Q_k[b] == a]``. These are vote shares in ``[0, 1]``
      summing to 1, NOT Q-values: argmax is the winning action, but do not use them as TD
      targets. Meant for acting and evaluation of a model trained in another mode.

    ``mode`` is a plain attribute: change it after training without touching the weights.
    ``forward`` returns ``(q [B, A], gate_logits [B, K])``; the logits take the regime
    cross-entropy auxiliary loss (probabilities are ``softmax(-1)``, see `weights`).

    Args:
        window: W.
        n_features: F.
        state_dim: S.
        mode: ``"weighted"``, ``"switching"`` or ``"voting"``.
        n_regimes: K, number of specialists and gate outputs.
        n_actions: A.
        gate_hidden: hidden sizes of the gate MLP.
        **enhanced_kwargs: `EnhancedDQN` sizes shared by every specialist (defaults
            ``d_model=16, heads=2, lstm_hidden=16, lstm_layers=1, lstm_steps=4``).

    Raises:
        ValueError: on an unknown mode.

    Examples:
        >>> net = EnsembleTrader(window=10, n_features=4, mode="weighted")
        >>> q, gate_logits = net(torch.zeros(2, 10, 4), torch.zeros(2, 1))
        >>> q.shape, gate_logits.shape
        (torch.Size([2, 3]), torch.Size([2, 4]))
    """

    def __init__(
        self,
        window: int,
        n_features: int,
        state_dim: int = 1,
        mode: Mode = "weighted",
        *,
        n_regimes: int = 4,
        n_actions: int = 3,
        gate_hidden: tuple[int, ...] = (128, 64),
        **enhanced_kwargs: Any,
    ) -> None:
        super().__init__()
        check_sizes(window, n_features, state_dim)
        self.mode = mode  # validated by the property setter
        self.window, self.n_features, self.state_dim = window, n_features, state_dim
        kwargs = {**_SPECIALIST_DEFAULTS, **enhanced_kwargs}
        kwargs.setdefault("pathway_hidden", kwargs["d_model"])
        self.specialists = EnhancedCore(
            n_regimes, window, n_features, state_dim,
            n_actions=n_actions, n_regimes=n_regimes, **kwargs,
        )  # fmt: skip
        layers: list[nn.Module] = [nn.Flatten(1)]
        width = window * n_features
        for h in gate_hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_regimes))
        self.gate = nn.Sequential(*layers)

    @property
    def mode(self) -> Mode:
        """How specialist Q-values are combined (see the class docstring)."""
        return self._mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {value!r}")
        self._mode = value

    def weights(self, window: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Gate probabilities ``[B, K]`` (rows sum to 1). ``state`` is accepted and unused.

        Args:
            window: ``[B, W, F]``.
            state: ``[B, S]``; the gate looks at the market only.

        Returns:
            ``softmax(gate_logits)``.
        """
        return self.gate(window).softmax(dim=-1)

    def specialist_q(self, window: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Every specialist's Q-values stacked: ``[B, K, A]``."""
        check_inputs(window, state, self.window, self.n_features, self.state_dim)
        return self.specialists.streams(window, state).q.transpose(0, 1)

    def forward(
        self, window: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, W, F], [B, S] -> (q [B, A], gate_logits [B, K])`` combined by `mode`.

        Args:
            window: ``[B, W, F]`` feature window ending at the decision bar.
            state: ``[B, S]`` agent state.

        Returns:
            Combined Q-values (vote shares in ``"voting"`` mode) and the gate's logits.
        """
        logits = self.gate(window)  # [B, K]
        p = logits.softmax(dim=-1)
        qs = self.specialist_q(window, state)  # [B, K, A]
        if self.mode == "weighted":
            w = p
        elif self.mode == "switching":
            hard = F.one_hot(p.argmax(dim=-1), p.shape[-1]).to(p.dtype)
            w = hard + (p - p.detach())  # exactly `hard` forward; soft gradient backward
        else:  # voting
            votes = F.one_hot(qs.argmax(dim=-1), qs.shape[-1]).to(p.dtype)  # [B, K, A]
            return (p.unsqueeze(-1) * votes).sum(dim=1), logits
        return (w.unsqueeze(-1) * qs).sum(dim=1), logits
