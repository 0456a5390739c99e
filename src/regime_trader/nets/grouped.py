"""Grouped layers: ``G`` independent copies of a layer evaluated in one batched matmul.

The EnhancedDQN is a chain of small layers (a per-bar embedding, attention, four regime
pathways and a detector, an LSTM, two dueling streams). On a CPU at training shapes each
small layer costs more in per-call overhead than in arithmetic, so the speed of the network
is set by the number of calls. Grouping fuses calls that share an input: the four pathways
and the detector become two batched matmuls, the value and advantage streams two more, and
the four specialists of `EnsembleTrader` run as one network with ``G = 4``.

Shapes: ``G`` groups, ``N`` rows, ``I`` inputs, ``O`` outputs. Every parameter carries the
group axis first; initialisation follows the matching ``torch.nn`` layer (a test compares
each grouped layer with ``G`` plain ones carrying the same weights).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _uniform(shape: tuple[int, ...], bound: float) -> nn.Parameter:
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class GroupedLinear(nn.Module):
    """``y[g] = x[g] @ weight[g] + bias[g]``: ``[G, N, I] -> [G, N, O]``.

    ``x`` may also be ``[1, N, I]`` (one input shared by every group). ``weight`` is stored
    ``[G, I, O]`` (transposed relative to ``nn.Linear``) so that the product is a plain
    ``baddbmm``; the initialisation is ``nn.Linear``'s (uniform in ``+-1/sqrt(I)``).
    """

    def __init__(self, groups: int, d_in: int, d_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)
        self.weight = _uniform((groups, d_in, d_out), bound)
        self.bias = _uniform((groups, 1, d_out), bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[G or 1, N, I] -> [G, N, O]``."""
        if x.shape[0] == 1 and self.weight.shape[0] > 1:
            x = x.expand(self.weight.shape[0], -1, -1)
        return torch.baddbmm(self.bias, x, self.weight)


class GroupedLayerNorm(nn.Module):
    """LayerNorm over the last axis with per-group affine parameters: ``[G, ..., D]``."""

    def __init__(self, groups: int, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(groups, 1, dim))
        self.bias = nn.Parameter(torch.zeros(groups, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[G, N, D] -> [G, N, D]``."""
        y = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        return torch.addcmul(self.bias, y, self.weight)


class GroupedLSTM(nn.Module):
    """A stacked LSTM per group, with ``nn.LSTM``'s parameters (gate order i, f, g, o).

    Parameters are ``nn.LSTM``'s with a group axis first (``w_ih [G, 4L, I]``,
    ``w_hh [G, 4L, L]``, ``b_ih``/``b_hh [G, 4L]`` per layer). With one group the forward pass
    is torch's own LSTM kernel; with several, the input projections of all steps are one
    batched matmul per layer and only the recurrent product runs per step, batched over the
    groups (a test holds both equal to ``nn.LSTM`` with the same weights).

    Args:
        groups: G.
        d_in: input width.
        hidden: L, hidden width.
        layers: stacked layers.
    """

    def __init__(self, groups: int, d_in: int, hidden: int, layers: int = 1) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"lstm layers must be >= 1, got {layers}")
        self.hidden, self.layers = hidden, layers
        bound = 1.0 / math.sqrt(hidden)
        widths = [d_in] + [hidden] * (layers - 1)
        self.w_ih = nn.ParameterList(_uniform((groups, 4 * hidden, w), bound) for w in widths)
        self.w_hh = nn.ParameterList(_uniform((groups, 4 * hidden, hidden), bound) for _ in widths)
        self.b_ih = nn.ParameterList(_uniform((groups, 4 * hidden), bound) for _ in widths)
        self.b_hh = nn.ParameterList(_uniform((groups, 4 * hidden), bound) for _ in widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[G, B, T, I] -> [G, B, L]``: the top layer's hidden state after the last step."""
        if x.shape[0] == 1:
            return self._single(x[0]).unsqueeze(0)
        for layer in range(self.layers):
            x, h = self._grouped_layer(x, layer)
        return h

    def _single(self, x: torch.Tensor) -> torch.Tensor:
        """One group: torch's LSTM kernel on ``[B, T, I]``."""
        params = [
            p[0]
            for layer in zip(self.w_ih, self.w_hh, self.b_ih, self.b_hh, strict=True)
            for p in layer
        ]
        h0 = x.new_zeros(self.layers, x.shape[0], self.hidden)
        out, _, _ = torch.lstm(
            x, (h0, h0), params, True, self.layers, 0.0, self.training, False, True
        )
        return out[:, -1]

    def _grouped_layer(self, x: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One layer for all groups: ``[G, B, T, I] -> ([G, B, T, L], last h [G, B, L])``."""
        g, b, t, _ = x.shape
        w_hh = self.w_hh[layer].transpose(1, 2)  # [G, L, 4L]
        bias = (self.b_ih[layer] + self.b_hh[layer]).unsqueeze(1)  # [G, 1, 4L]
        proj = torch.baddbmm(bias, x.reshape(g, b * t, -1), self.w_ih[layer].transpose(1, 2))
        h = c = x.new_zeros(g, b, self.hidden)
        steps = []
        for i, step in enumerate(proj.view(g, b, t, -1).unbind(2)):
            gates = torch.baddbmm(step, h, w_hh) if i else step  # h0 = 0
            i_, f, gg, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i_) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
            steps.append(h)
        return torch.stack(steps, dim=2), h
