"""Self-attention over the bars of an observation window.

Shapes: ``B`` batch, ``W`` bars per window, ``D`` model width, ``H`` heads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TemporalAttentionLayer(nn.Module):
    """Multi-head scaled dot-product self-attention over time, with residual and LayerNorm.

    ``y = LayerNorm(x + Dropout(out(attention(x))))`` where every bar attends to every bar of
    its window (``causal=False``) or only to itself and earlier bars (``causal=True``). The
    attention itself is ``torch.nn.functional.scaled_dot_product_attention``, which picks a
    fused kernel (flash / memory-efficient) where the device has one.

    Args:
        dim: D, width of the input and output.
        heads: H, number of attention heads; must divide ``dim``.
        causal: if True, the output at bar ``t`` depends only on bars ``<= t``.
        dropout: dropout on the attention weights and on the projected output (training only).

    Raises:
        ValueError: if ``heads`` does not divide ``dim`` or ``dropout`` is outside ``[0, 1)``.

    Examples:
        >>> layer = TemporalAttentionLayer(16, heads=4, causal=True)
        >>> layer(torch.zeros(2, 30, 16)).shape
        torch.Size([2, 30, 16])
    """

    def __init__(
        self, dim: int, heads: int = 1, causal: bool = False, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if dim < 1 or heads < 1 or dim % heads:
            raise ValueError(f"heads ({heads}) must be >= 1 and divide dim ({dim})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dim = dim
        self.heads = heads
        self.causal = causal
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)  # one matmul for query, key and value
        self.out = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the window.

        Args:
            x: ``[B, W, D]`` per-bar features.

        Returns:
            ``[B, W, D]`` attended features (a new tensor; ``x`` is not modified).

        Raises:
            ValueError: if ``x`` is not ``[B, W, D]`` with ``D == dim``.
        """
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected [B, W, {self.dim}], got {list(x.shape)}")
        b, w, d = x.shape
        # [B, W, 3D] -> [3, B, H, W, D/H]
        qkv = self.qkv(x).view(b, w, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attended = F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=self.causal,
        )  # [B, H, W, D/H]
        merged = attended.transpose(1, 2).reshape(b, w, d)
        return self.norm(x + self.drop(self.out(merged)))

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return f"dim={self.dim}, heads={self.heads}, causal={self.causal}, dropout={self.dropout}"
