"""The enhanced Q-network: attention, regime pathways, an LSTM and a dueling head.

Shapes: ``B`` batch, ``W`` bars per window, ``F`` features per bar, ``S`` agent-state size,
``D`` model width, ``K`` regimes (4), ``A`` actions (3: hold, sell, buy), ``T`` the last
bars that the LSTM reads (``lstm_steps``), ``G`` networks evaluated at once (1 here; the
four specialists of `EnsembleTrader` run as one `EnhancedCore` with ``G = 4``).

Pipeline::

    window [B, W, F] -> Linear+GELU per bar -> + position [W, D]      -> [B, W, D]
                     -> TemporalAttention: the last T bars attend to all W bars -> [B, T, D]
                     -> MarketRegimePathways -> mixed [B, T, D], regime logits [B, T, K]
                     -> LSTM over the T bars, last step's top layer          -> [B, L]
    concat with state [B, S]                                                -> [B, L + S]
    dueling: value [B, 1] + advantage [B, A] - mean_a advantage             -> q [B, A]

Every stage is the plan's; what changed is where it runs (docs/architecture.md): only the
last ``T`` bars go past attention (each of them has already attended to the whole window),
so the pathways and the LSTM do ``T / W`` of the work, and the five pathway MLPs, the two
dueling streams and the specialists of an ensemble are fused into grouped matmuls
(`nets/grouped.py`). A test holds this network equal to the plain modules
(`TemporalAttentionLayer`, `MarketRegimePathways`, ``nn.LSTM``, ``nn.Linear``) carrying the
same weights, outputs and gradients.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from regime_trader.nets.grouped import GroupedLayerNorm, GroupedLinear, GroupedLSTM


class DuelingOutput(NamedTuple):
    """Every intermediate a caller may want from `EnhancedDQN.streams`.

    Attributes:
        q: ``[B, A]`` Q-values, ``value + advantage - advantage.mean(-1)``.
        value: ``[B, 1]`` state value stream.
        advantage: ``[B, A]`` raw (uncentred) advantage stream.
        regime_logits: ``[B, T, K]`` pathway-detector logits at each of the last T bars.
    """

    q: torch.Tensor
    value: torch.Tensor
    advantage: torch.Tensor
    regime_logits: torch.Tensor


class EnhancedCore(nn.Module):
    """``G`` independent EnhancedDQNs evaluated together (see the module docstring).

    ``streams(window [B, W, F], state [B, S])`` returns a `DuelingOutput` whose tensors carry
    the group axis first (``q [G, B, A]``, ``regime_logits [G, B, T, K]``). Arguments as
    `EnhancedDQN`, plus ``groups``.
    """

    def __init__(
        self,
        groups: int,
        window: int,
        n_features: int,
        state_dim: int,
        *,
        d_model: int,
        heads: int,
        lstm_hidden: int,
        lstm_layers: int,
        lstm_steps: int,
        n_actions: int,
        n_regimes: int,
        pathway_hidden: int,
        head_hidden: int,
        causal: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        if d_model < 1 or heads < 1 or d_model % heads:
            raise ValueError(f"heads ({heads}) must be >= 1 and divide d_model ({d_model})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if n_regimes < 1 or lstm_steps < 1:
            raise ValueError(
                f"need n_regimes >= 1 and lstm_steps >= 1, got {n_regimes}, {lstm_steps}"
            )
        g, d, k, hp = groups, d_model, n_regimes, pathway_hidden
        self.groups, self.window, self.heads, self.causal, self.dropout = (
            g,
            window,
            heads,
            causal,
            dropout,
        )
        self.steps = min(lstm_steps, window)
        self.n_regimes, self.head_hidden = k, head_hidden
        self.embed = GroupedLinear(g, n_features, d)
        self.position = nn.Parameter(torch.randn(g, 1, window, d) * 0.02)
        self.qkv = GroupedLinear(g, d, 3 * d)  # columns: query | key | value
        self.attn_out = GroupedLinear(g, d, d)
        self.norm = GroupedLayerNorm(g, d)
        self.path_in = GroupedLinear(g, d, (k + 1) * hp)  # K pathways | detector
        bound = 1.0 / hp**0.5
        self.path_w = nn.Parameter(torch.empty(g, k, hp, d).uniform_(-bound, bound))
        self.path_b = nn.Parameter(torch.empty(g, k, d).uniform_(-bound, bound))
        self.detector_out = GroupedLinear(g, hp, k)
        self.lstm = GroupedLSTM(g, d, lstm_hidden, lstm_layers)
        self.head_in = GroupedLinear(g, lstm_hidden + state_dim, 2 * head_hidden)  # value | adv
        self.value_out = GroupedLinear(g, head_hidden, 1)
        self.adv_out = GroupedLinear(g, head_hidden, n_actions)
        self.register_buffer("_mask", self._causal_mask(), persistent=False)

    def _attn_mask(self) -> torch.Tensor | None:
        """The registered causal mask buffer (None without causal attention)."""
        mask = self._mask if self.causal else None
        return mask if isinstance(mask, torch.Tensor) else None

    def _causal_mask(self) -> torch.Tensor:
        """``[T, W]`` True where query bar ``W - T + i`` may attend to bar ``j`` (``j <= it``)."""
        rows = torch.arange(self.window - self.steps, self.window).unsqueeze(1)
        return torch.arange(self.window).unsqueeze(0) <= rows

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        """``[G, B, W, D] -> [G, B*T, D]``: the last T bars attend to the window; residual, norm."""
        g, b, w, d = x.shape
        t, h = self.steps, self.heads
        wq, wkv = self.qkv.weight[..., :d], self.qkv.weight[..., d:]
        bq, bkv = self.qkv.bias[..., :d], self.qkv.bias[..., d:]
        last = x[:, :, w - t :].reshape(g, b * t, d)
        q = torch.baddbmm(bq, last, wq).view(g * b, t, h, d // h).transpose(1, 2)
        kv = torch.baddbmm(bkv, x.reshape(g, b * w, d), wkv)
        k, v = kv.view(g * b, w, 2, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        att = F.scaled_dot_product_attention(
            q, k, v,
            attn_mask=self._attn_mask(),
            dropout_p=self.dropout if self.training else 0.0,
        )  # fmt: skip
        att = att.transpose(1, 2).reshape(g, b * t, d)
        out = self.attn_out(att)
        if self.dropout and self.training:
            out = F.dropout(out, self.dropout)
        return self.norm(last + out)

    def _pathways(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[G, N, D] -> (mixed [G, N, D], logits [G, N, K])``: soft mixture of K MLPs."""
        g, n, _ = z.shape
        k = self.n_regimes
        hid = F.relu(self.path_in(z)).view(g, n, k + 1, -1)  # [G, N, K + 1, Hp]
        logits = self.detector_out(hid[:, :, k])  # [G, N, K]
        p = logits.softmax(dim=-1)
        # sum_k p_k (h_k W_k + b_k) = [p_1 h_1 | ... | p_K h_K] @ [W_1; ...; W_K] + p @ B
        weighted = (hid[:, :, :k] * p.unsqueeze(-1)).view(g, n, -1)  # [G, N, K * Hp]
        mixed = torch.baddbmm(torch.bmm(p, self.path_b), weighted, self.path_w.flatten(1, 2))
        return mixed, logits

    def streams(self, window: torch.Tensor, state: torch.Tensor) -> DuelingOutput:
        """Q-values, value and advantage streams and regime logits, group axis first."""
        b, w, f = window.shape
        g, t = self.groups, self.steps
        x = F.gelu(self.embed(window.reshape(1, b * w, f))).view(g, b, w, -1) + self.position
        mixed, logits = self._pathways(self._attend(x))  # [G, B*T, D], [G, B*T, K]
        h = self.lstm(mixed.view(g, b, t, -1))  # [G, B, L]
        h = torch.cat([h, state.to(h.dtype).expand(g, b, -1)], dim=-1)  # [G, B, L + S]
        hid = F.relu(self.head_in(h))
        value = self.value_out(hid[..., : self.head_hidden])  # [G, B, 1]
        advantage = self.adv_out(hid[..., self.head_hidden :])  # [G, B, A]
        q = value + advantage - advantage.mean(dim=-1, keepdim=True)
        return DuelingOutput(q, value, advantage, logits.view(g, b, t, -1))


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
        lstm_steps: T, the last bars that go past attention into the pathways and the LSTM
            (at most W). Each of them has attended to all W bars.
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
        lstm_layers: int = 1,
        n_actions: int = 3,
        *,
        n_regimes: int = 4,
        pathway_hidden: int | None = None,
        head_hidden: int = 32,
        lstm_steps: int = 4,
        causal: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_sizes(window, n_features, state_dim)
        self.window, self.n_features, self.state_dim = window, n_features, state_dim
        self.core = EnhancedCore(
            1, window, n_features, state_dim,
            d_model=d_model, heads=heads, lstm_hidden=lstm_hidden, lstm_layers=lstm_layers,
            lstm_steps=lstm_steps, n_actions=n_actions, n_regimes=n_regimes,
            pathway_hidden=pathway_hidden or d_model, head_hidden=head_hidden,
            causal=causal, dropout=dropout,
        )  # fmt: skip

    def streams(self, window: torch.Tensor, state: torch.Tensor) -> DuelingOutput:
        """Q-values together with the value and advantage streams and per-bar regime logits.

        Args:
            window: ``[B, W, F]`` feature window ending at the decision bar.
            state: ``[B, S]`` agent state.

        Returns:
            A `DuelingOutput` (regime logits at each of the last ``lstm_steps`` bars).

        Raises:
            ValueError: on a window or state of the wrong shape.
        """
        check_inputs(window, state, self.window, self.n_features, self.state_dim)
        return DuelingOutput(*(x[0] for x in self.core.streams(window, state)))

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


def check_sizes(window: int, n_features: int, state_dim: int) -> None:
    """Raise ValueError unless ``window >= 1, n_features >= 1, state_dim >= 0``."""
    if window < 1 or n_features < 1 or state_dim < 0:
        raise ValueError(
            f"need window >= 1, n_features >= 1, state_dim >= 0; "
            f"got {window}, {n_features}, {state_dim}"
        )


def check_inputs(
    window: torch.Tensor, state: torch.Tensor, w: int, n_features: int, state_dim: int
) -> None:
    """Raise a ValueError naming the expected shape of a wrong window or state."""
    if window.dim() != 3 or tuple(window.shape[1:]) != (w, n_features):
        raise ValueError(f"window must be [B, {w}, {n_features}], got {list(window.shape)}")
    if state.dim() != 2 or state.shape != (window.shape[0], state_dim):
        raise ValueError(f"state must be [{window.shape[0]}, {state_dim}], got {list(state.shape)}")
