"""Typed records that cross module boundaries. Shapes: B batch, W window, F features, T bars."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Batch(NamedTuple):
    """A replay sample; observations are gathered from `MarketData` at sample time."""

    window: torch.Tensor  # [B, W, F] float32
    state: torch.Tensor  # [B, S] float32 (agent state: position)
    action: torch.Tensor  # [B] int64
    reward: torch.Tensor  # [B] float32
    next_window: torch.Tensor  # [B, W, F]
    next_state: torch.Tensor  # [B, S]
    done: torch.Tensor  # [B] float32 (1.0 = terminal, no bootstrap)
    weights: torch.Tensor  # [B] float32 importance weights (1 for uniform replay)
    indices: torch.Tensor  # [B] int64 replay slots
    regime: torch.Tensor  # [B] int64 regime label at t
