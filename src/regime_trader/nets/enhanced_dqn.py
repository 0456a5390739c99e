"""The enhanced Q-network: attention, regime pathways, an LSTM and a dueling head.

Shapes: ``B`` batch, ``W`` bars per window, ``F`` features per bar, ``S`` agent-state size,
``D`` model width, ``K`` regimes (4), ``A`` actions (3: hold, sell, buy).

Pipeline (per module docstrings for details)::

    window [B, W, F] -> Linear+GELU per bar -> + position [W, D]   -> [B, W, D]
                     -> TemporalAttentionLayer                       -> [B, W, D]
                     -> MarketRegimePathways  -> mixed [B, W, D], regime logits [B, W, K]
                     -> LSTM (batch_first), last step's top layer    -> [B, L]
    concat with state [B, S]                                         -> [B, L + S]
    dueling: value [B, 1] + advantage [B, A] - mean_a advantage      -> q [B, A]
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from regime_trader.nets.attention import TemporalAttentionLayer
from regime_trader.nets.pathways import MarketRegimePathways


class DuelingOutput(NamedTuple):
    """Every intermediate a caller may want from `EnhancedDQN.streams`.

    Attributes:
        q: ``[B, A]`` Q-values, ``value + advantage - advantage.mean(-1)``.
        value: ``[B, 1]`` state value stream.
        advantage: ``[B, A]`` raw (uncentred) advantage stream.
        regime_logits: ``[B, W, K]`` pathway-detector logits at every bar.
    """

    q: torch.Tensor
    value: torch.Tensor
    advantage: torch.Tensor
    regime_logits: torch.Tensor


def _head(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class EnhancedDQN(nn.Module):
    """Attention + regime pathways + LSTM + dueling Q-network.

    ``forward(window, state)`` returns ``(q_values [B, A], regime_logits [B, K])``: the second
    output is the pathway detector's LOGITS at the last bar of the window (the decision bar);
    apply ``softmax(-1)`` for probabilities, or a cross-entropy loss against the rule-based
    labels (0 uptrend, 1 downtrend, 2 plateau, 3 oscillating) to train the detector.

    Args:
        window: W, bars per observation (forward checks it; the positional embedding has W rows).
        n_features: F, features per bar.
        state_dim: S, agent-state size (position, ...).
        d_model: D, width of the per-bar features through attention and pathways.
        heads: attention heads; must divide ``d_model``.
        lstm_hidden: L, LSTM hidden size.
        lstm_layers: stacked LSTM layers.
        n_actions: A.
        n_regimes: K, pathways and detector outputs.
        pathway_hidden: hidden width of each pathway and the detector (default ``d_model``).
        head_hidden: hidden width of the value and advantage streams.
        causal: causal attention (bar t sees bars <= t); the window is all past data either
            way, so this is a modelling choice, not a look-ahead guard.
        dropout: attention dropout (training only).

    Examples:
        >>> net = EnhancedDQN(window=30, n_features=8, d_model=32, lstm_hidden=32)
        >>> q, logits = net(torch.zeros(5, 30, 8), torch.zeros(5, 1))
        >>> q.shape, logits.shape
        (torch.Size([5, 3]), torch.Size([5, 4]))
    """

    def __init__(
        self,
        window: int,
        n_features: int,
        state_dim: int = 1,
        d_model: int = 64,
        heads: int = 4,
        lstm_hidden: int = 64,
        lstm_layers: int = 2,
        n_actions: int = 3,
        *,
        n_regimes: int = 4,
        pathway_hidden: int | None = None,
        head_hidden: int = 32,
        causal: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if window < 1 or n_features < 1 or state_dim < 0:
            raise ValueError(
                f"need window >= 1, n_features >= 1, state_dim >= 0; "
                f"got {window}, {n_features}, {state_dim}"
            )
        self.window = window
        self.n_features = n_features
        self.state_dim = state_dim
        self.features = nn.Sequential(nn.Linear(n_features, d_model), nn.GELU())
        self.position = nn.Parameter(torch.randn(window, d_model) * 0.02)
        self.attention = TemporalAttentionLayer(d_model, heads, causal=causal, dropout=dropout)
        self.pathways = MarketRegimePathways(d_model, n_regimes, pathway_hidden or d_model)
        self.lstm = nn.LSTM(d_model, lstm_hidden, num_layers=lstm_layers, batch_first=True)
        self.value = _head(lstm_hidden + state_dim, head_hidden, 1)
        self.advantage = _head(lstm_hidden + state_dim, head_hidden, n_actions)

    def _check(self, window: torch.Tensor, state: torch.Tensor) -> None:
        if window.dim() != 3 or tuple(window.shape[1:]) != (self.window, self.n_features):
            raise ValueError(
                f"window must be [B, {self.window}, {self.n_features}], got {list(window.shape)}"
            )
        if state.dim() != 2 or state.shape != (window.shape[0], self.state_dim):
            raise ValueError(
                f"state must be [{window.shape[0]}, {self.state_dim}], got {list(state.shape)}"
            )

    def streams(self, window: torch.Tensor, state: torch.Tensor) -> DuelingOutput:
        """Q-values together with the value and advantage streams and per-bar regime logits.

        Args:
            window: ``[B, W, F]`` feature window ending at the decision bar.
            state: ``[B, S]`` agent state.

        Returns:
            A `DuelingOutput`.

        Raises:
            ValueError: on a window or state of the wrong shape.
        """
        self._check(window, state)
        x = self.features(window) + self.position  # [B, W, D]
        x = self.attention(x)  # [B, W, D]
        x, regime_logits = self.pathways(x)  # [B, W, D], [B, W, K]
        out, _ = self.lstm(x)  # [B, W, L]
        h = torch.cat([out[:, -1], state.to(out.dtype)], dim=1)  # [B, L + S]
        value = self.value(h)  # [B, 1]
        advantage = self.advantage(h)  # [B, A]
        q = value + advantage - advantage.mean(dim=1, keepdim=True)
        return DuelingOutput(q, value, advantage, regime_logits)

    def forward(
        self, window: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, W, F], [B, S] -> (q_values [B, A], regime_logits [B, K])`` (logits at bar W-1).

        Args:
            window: ``[B, W, F]`` feature window ending at the decision bar.
            state: ``[B, S]`` agent state.

        Returns:
            Q-values and the last bar's regime logits.
        """
        s = self.streams(window, state)
        return s.q, s.regime_logits[:, -1]
