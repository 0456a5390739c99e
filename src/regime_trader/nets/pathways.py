"""Regime pathways: one MLP per market regime, mixed by a learned regime detector.

Shapes: ``B`` batch, ``W`` bars per window, ``D`` width, ``K`` regimes. Regime ``k`` follows
the rule-based labels of `regime_trader.regimes`: 0 uptrend, 1 downtrend, 2 plateau,
3 oscillating.
"""

from __future__ import annotations

import torch
from torch import nn

from regime_trader.regimes.rules import REGIME_NAMES  # noqa: E402, F401 (re-exported)


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class MarketRegimePathways(nn.Module):
    """Mixture of per-regime MLPs, applied at every bar.

    A detector maps each bar's features to regime logits ``[B, W, K]``; the output is
    ``sum_k softmax(logits)_k * pathway_k(x)``, a soft mixture that keeps every pathway
    differentiable. The logits (not probabilities) are returned so that a cross-entropy
    auxiliary loss against the rule-based regime labels can train the detector directly;
    ``logits.softmax(-1)`` gives the probabilities.

    Args:
        dim: D, width of the input and output.
        n_regimes: K, number of pathways (and detector outputs).
        hidden: hidden width of every pathway and of the detector.

    Examples:
        >>> mix = MarketRegimePathways(16, hidden=32)
        >>> out, logits = mix(torch.zeros(2, 30, 16))
        >>> out.shape, logits.shape
        (torch.Size([2, 30, 16]), torch.Size([2, 30, 4]))
    """

    def __init__(self, dim: int, n_regimes: int = 4, hidden: int = 64) -> None:
        super().__init__()
        if n_regimes < 1:
            raise ValueError(f"n_regimes must be >= 1, got {n_regimes}")
        self.dim = dim
        self.n_regimes = n_regimes
        self.pathways = nn.ModuleList(_mlp(dim, hidden, dim) for _ in range(n_regimes))
        self.detector = _mlp(dim, hidden, n_regimes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix the pathways by the detected regime at every bar.

        Args:
            x: ``[B, W, D]`` per-bar features.

        Returns:
            ``(mixed [B, W, D], regime_logits [B, W, K])``.

        Raises:
            ValueError: if ``x`` is not ``[B, W, D]`` with ``D == dim``.
        """
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected [B, W, {self.dim}], got {list(x.shape)}")
        logits = self.detector(x)  # [B, W, K]
        weights = logits.softmax(dim=-1).unsqueeze(-1)  # [B, W, K, 1]
        outs = torch.stack([path(x) for path in self.pathways], dim=2)  # [B, W, K, D]
        return (weights * outs).sum(dim=2), logits
