"""Exploration: a linear epsilon schedule and batched epsilon-greedy action selection."""

from __future__ import annotations

import torch


def linear_epsilon(step: int, *, start: float, end: float, duration: int) -> float:
    """Epsilon decays linearly from ``start`` to ``end`` over ``duration`` steps, then stays."""
    frac = min(step / max(duration, 1), 1.0)
    return start + frac * (end - start)


def epsilon_greedy(q: torch.Tensor, epsilon: float, generator: torch.Generator) -> torch.Tensor:
    """Greedy actions from ``q [N, A]``, replaced by uniform ones with probability ``epsilon``."""
    n, n_actions = q.shape
    greedy = q.argmax(dim=1)
    rand = torch.randint(n_actions, (n,), generator=generator, device=q.device)
    explore = torch.rand(n, generator=generator, device=q.device) < epsilon
    return torch.where(explore, rand, greedy)
