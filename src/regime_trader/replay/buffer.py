"""Uniform replay over `IndexStorage`, returning `Batch` records with windows gathered on the fly."""

from __future__ import annotations

import torch

from regime_trader.envs.market import MarketData
from regime_trader.envs.vector_env import Transition
from regime_trader.replay.storage import IndexStorage
from regime_trader.types import Batch


class ReplayBuffer:
    """Uniform sampler + index storage bound to one `MarketData`.

    Args:
        market: the series transitions index into.
        window: observation window W.
        capacity: transitions kept.
        generator: torch generator for sampling (on the market's device).
    """

    def __init__(
        self, market: MarketData, window: int, capacity: int, *, generator: torch.Generator
    ) -> None:
        self.market, self.window, self.gen = market, window, generator
        self.storage = IndexStorage(capacity, market.device)

    def __len__(self) -> int:
        return len(self.storage)

    def add(self, tr: Transition) -> None:
        """Store a batched transition (indices only)."""
        self.storage.add(
            t=tr.t,
            position=tr.position,
            action=tr.action,
            reward=tr.reward,
            next_position=tr.next_position,
            done=torch.zeros_like(tr.reward),  # time-limit ends: always bootstrap
            regime=self.market.regimes[tr.t],
        )

    def sample(self, batch_size: int) -> Batch:
        """Draw ``batch_size`` transitions uniformly with replacement."""
        slots = torch.randint(
            len(self.storage), (batch_size,), generator=self.gen, device=self.market.device
        )
        return self.gather(slots, torch.ones(batch_size, device=self.market.device))

    def gather(self, slots: torch.Tensor, weights: torch.Tensor) -> Batch:
        """Build a `Batch` for the given slots (shared with prioritized samplers)."""
        f = self.storage.get(slots)
        both = self.market.windows(f["t"] + 1, self.window + 1)  # bars t-W+1 .. t+1, one gather
        return Batch(
            window=both[:, :-1],
            state=f["position"].unsqueeze(-1),
            action=f["action"],
            reward=f["reward"],
            next_window=both[:, 1:],
            next_state=f["next_position"].unsqueeze(-1),
            done=f["done"],
            weights=weights,
            indices=slots,
            regime=f["regime"],
        )
