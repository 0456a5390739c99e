"""Samplers: which stored slots a batch draws, and their importance weights.

All share the `Sampler` verbs, vectorized over the batch and free of host syncs.
`PrioritizedSampler` is proportional PER (Schaul et al., 2016) over a `SumTree` with stratified
draws; `RegimeAwareSampler` keeps one tree per regime (plus one for unknown labels) and fills
each batch by regime quotas. See docs/replay.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from regime_trader.replay.storage import ring_ranges
from regime_trader.replay.sum_tree import SumTree

Tensor = torch.Tensor


def beta_schedule(step: int, total: int, start: float, end: float) -> float:
    """Linear annealing of the importance-weight exponent from ``start`` to ``end``.

    Examples:
        >>> beta_schedule(0, 100, 0.4, 1.0), beta_schedule(50, 100, 0.4, 1.0)
        (0.4, 0.7)
        >>> beta_schedule(500, 100, 0.4, 1.0)
        1.0
    """
    frac = min(max(step / max(total, 1), 0.0), 1.0)
    return round(start + frac * (end - start), 12)


class Sampler(Protocol):
    """What `ReplayBuffer` needs from a sampler.

    ``on_add(slots, regimes, start=None)``: slots just written (``start``: they are ``start,
    start + 1, ...`` modulo the capacity); ``sample(batch_size, size, beta, generator) ->
    (slots, weights)`` over the ``size`` stored items; ``update(slots, td_abs)``: new
    priorities from ``|TD|``; ``state_dict()`` / ``load_state_dict(state)`` for checkpoints.
    """

    def on_add(self, slots: Tensor, regimes: Tensor, *, start: int | None = None) -> None: ...
    def sample(
        self, batch_size: int, size: int, beta: float, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]: ...
    def update(self, slots: Tensor, td_abs: Tensor) -> None: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


class UniformSampler:
    """Uniform draws with replacement; every weight is 1; priorities are ignored.

    Args:
        device: where slots and weights are created.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)

    def on_add(self, slots: Tensor, regimes: Tensor, *, start: int | None = None) -> None:
        """Nothing to track."""

    def sample(
        self, batch_size: int, size: int, beta: float, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """``batch_size`` slots uniform in ``[0, size)`` and unit weights."""
        slots = torch.randint(size, (batch_size,), generator=generator, device=self.device)
        return slots, torch.ones(batch_size, device=self.device)

    def update(self, slots: Tensor, td_abs: Tensor) -> None:
        """No priorities: a no-op."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Nothing to restore."""


class PrioritizedSampler:
    """Proportional prioritized replay over one `SumTree`.

    ``P(i) = p_i / sum_k p_k`` with ``p_i = (|td_i| + eps) ** alpha``; a batch splits
    ``[0, total)`` into ``batch_size`` equal segments and draws one prefix uniformly in each.
    Weights ``w_i = (N P(i)) ** -beta / max_j (N P(j)) ** -beta = (p_i / p_min) ** -beta``, with
    the exact ``p_min`` over stored items from the tree's min levels.

    Args:
        capacity: slots (equal to the storage capacity).
        alpha: priority exponent (0: uniform).
        eps: added to ``|td|`` so that no priority is zero.
        device: where the tree lives.
        fanout: children per tree node.
    """

    n_pools = 1

    def __init__(
        self,
        capacity: int,
        alpha: float = 0.6,
        eps: float = 1e-3,
        device: torch.device | str = "cpu",
        *,
        fanout: int = 32,
    ) -> None:
        self.alpha, self.eps, self.device = float(alpha), float(eps), torch.device(device)
        self.tree = SumTree(capacity, n_trees=self.n_pools, fanout=fanout, device=self.device)
        # largest leaf value (p ** alpha) ever set; new items get it (standard PER), O(1) per push
        self.max_priority = torch.ones((), dtype=torch.float64, device=self.device)
        self._arange = torch.arange(0, dtype=torch.float64, device=self.device)

    def on_add(self, slots: Tensor, regimes: Tensor, *, start: int | None = None) -> None:
        """New items (``n <= capacity`` distinct ``slots``) get the largest priority so far, so
        each is replayed soon; ``start``: see `Sampler`; ``regimes`` are not used here."""
        n = slots.shape[0]
        if start is None:
            self.tree.update(slots, self.max_priority.expand(n), unique=True)
            return
        for lo, hi, _ in ring_ranges(start, n, self.tree.capacity):
            self.tree.update_range(lo, self.max_priority.expand(hi - lo))

    def priority(self, td_abs: Tensor) -> Tensor:
        """Leaf value ``(|td| + eps) ** alpha`` (float64)."""
        return (td_abs.detach().to(self.device, torch.float64).abs() + self.eps) ** self.alpha

    def update(self, slots: Tensor, td_abs: Tensor) -> None:
        """Set the priorities of ``slots`` from their TD errors (last duplicate wins)."""
        values = self.priority(td_abs)
        self.tree.update(slots, values)
        self.max_priority = torch.maximum(self.max_priority, values.max())

    def _positions(self, batch_size: int) -> Tensor:
        if self._arange.shape[0] != batch_size:
            self._arange = torch.arange(batch_size, dtype=torch.float64, device=self.device)
        return self._arange

    def sample(
        self, batch_size: int, size: int, beta: float, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Stratified proportional draws and normalised importance weights (float32)."""
        u = torch.rand(batch_size, generator=generator, dtype=torch.float64, device=self.device)
        total = self.tree.total()
        prefix = (self._positions(batch_size) + u) * (total / batch_size)
        slots = self.tree.find(prefix)
        ratio = self.tree.get(slots) / self.tree.min()
        return slots, ratio.pow_(-beta).float()

    def state_dict(self) -> dict:
        return {"tree": self.tree.state_dict(), "max_priority": self.max_priority.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.tree.load_state_dict(state["tree"])
        self.max_priority = state["max_priority"].to(self.device, torch.float64).clone()


class RegimeAwareSampler(PrioritizedSampler):
    """Prioritized replay within regimes, with a fixed share of each batch per regime.

    Pools: one tree per regime label ``0..n_regimes-1`` plus a last pool for unknown labels
    (``-1``), whose quota is 0. A batch of ``B`` gives pool ``r`` ``b_r`` draws, the
    largest-remainder rounding of ``q_r B`` where ``q`` is the quotas restricted to non-empty
    pools and renormalised (an empty regime's share goes to the others in proportion to their
    quotas; when every non-empty pool has quota 0, the non-empty pools share equally).
    Within a pool, draws are stratified and proportional to ``p_i``. Weights correct the
    priority skew within each pool, not the quotas:
    ``w_i = (N_r p_i / T_r) ** -beta / max_{r: b_r > 0} (N_r p_min,r / T_r) ** -beta``
    (``N_r`` items, ``T_r`` total priority of pool ``r``), so the quotas stay a deliberate
    re-weighting of regimes.

    Args:
        capacity: slots (equal to the storage capacity).
        quotas: share of each batch per regime (any non-negative numbers, renormalised).
        alpha, eps, device, fanout: as `PrioritizedSampler` (alpha 0: uniform per regime).
        n_regimes: regime labels ``0..n_regimes-1``.
    """

    def __init__(
        self,
        capacity: int,
        quotas: Sequence[float],
        alpha: float = 0.6,
        eps: float = 1e-3,
        device: torch.device | str = "cpu",
        n_regimes: int = 4,
        *,
        fanout: int = 32,
    ) -> None:
        if len(quotas) != n_regimes or min(quotas) < 0 or sum(quotas) <= 0:
            raise ValueError(
                f"regime quotas must be {n_regimes} non-negative numbers with a positive sum; "
                f"got {tuple(quotas)}"
            )
        self.n_regimes, self.n_pools = int(n_regimes), int(n_regimes) + 1
        super().__init__(capacity, alpha, eps, device, fanout=fanout)
        dev = self.device
        self.quotas = torch.tensor([*quotas, 0.0], dtype=torch.float64, device=dev)
        self.pool_of = torch.zeros(capacity, dtype=torch.int64, device=dev)  # pool of each slot
        self.filled = torch.zeros(capacity, dtype=torch.bool, device=dev)
        self.counts = torch.zeros(self.n_pools, dtype=torch.int64, device=dev)  # items per pool
        self._pool_ids = torch.arange(self.n_pools, device=dev)
        self._layout: tuple[int, Tensor, Tensor, Tensor] | None = None  # reset by on_add

    def pools(self, regimes: Tensor) -> Tensor:
        """Pool of each regime label (unknown or out-of-range labels go to the last pool)."""
        regimes = regimes.to(self.device, torch.int64)
        known = (regimes >= 0) & (regimes < self.n_regimes)
        return torch.where(known, regimes, self.n_regimes)

    def on_add(self, slots: Tensor, regimes: Tensor, *, start: int | None = None) -> None:
        """Move overwritten slots out of their old pool; new items get the largest priority.

        Args: as `PrioritizedSampler.on_add`; ``regimes`` picks each item's pool.
        """
        new, self._layout = self.pools(regimes), None
        if start is None:
            self._add_scattered(slots, new)
            return
        for lo, hi, off in ring_ranges(start, slots.shape[0], self.tree.capacity):
            pools = new[off : off + hi - lo]
            self._count(self.pool_of[lo:hi], self.filled[lo:hi], pools)
            hit = self._pool_ids.unsqueeze(1) == pools  # [n_pools, n]: pool of each new item
            self.tree.update_range(lo, torch.where(hit, self.max_priority, 0.0))
            self.pool_of[lo:hi] = pools
            self.filled[lo:hi] = True

    def _count(self, old: Tensor, was_filled: Tensor, new: Tensor) -> None:
        """Items per pool: overwritten ones leave ``old``, new ones join ``new``."""
        self.counts.index_add_(0, old, -was_filled.long())
        self.counts.index_add_(0, new, torch.ones_like(new))

    def _add_scattered(self, slots: Tensor, new: Tensor) -> None:
        old = self.pool_of.index_select(0, slots)
        self._count(old, self.filled.index_select(0, slots), new)
        n = slots.shape[0]
        values = torch.cat([self.max_priority.new_zeros(n), self.max_priority.expand(n)])
        # one update: clear (old, slot) then set (new, slot); the last write wins when old == new
        self.tree.update(slots.repeat(2), values, torch.cat([old, new]))
        self.pool_of.index_copy_(0, slots, new)
        self.filled.index_fill_(0, slots, True)

    def update(self, slots: Tensor, td_abs: Tensor) -> None:
        """Set the priorities of ``slots`` (in their current pools) from their TD errors."""
        values = self.priority(td_abs)
        self.tree.update(slots, values, self.pool_of.index_select(0, slots))
        self.max_priority = torch.maximum(self.max_priority, values.max())

    def allocate(self, batch_size: int) -> Tensor:
        """Draws per pool ``[n_pools]`` (int64, summing to ``batch_size``); see the class doc."""
        has = self.counts > 0
        q = self.quotas * has
        q = torch.where(q.sum() > 0, q, has.to(q.dtype))
        raw = q / q.sum() * batch_size
        base = raw.floor()
        short = batch_size - base.sum()
        order = torch.argsort(raw - base, descending=True, stable=True)
        bonus = torch.empty_like(base).index_copy_(0, order, (self._pool_ids < short).to(q.dtype))
        return (base + bonus).long()

    def _batch_layout(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """Draws per pool, pool of each batch row, rank of the row within its pool (cached
        until the next `on_add`, as it depends only on which pools are empty)."""
        if self._layout is None or self._layout[0] != batch_size:
            draws = self.allocate(batch_size)
            pool = torch.repeat_interleave(self._pool_ids, draws, output_size=batch_size)
            first = (draws.cumsum(0) - draws).index_select(0, pool)
            self._layout = (batch_size, draws, pool, self._positions(batch_size) - first)
        return self._layout[1:]

    def sample(
        self, batch_size: int, size: int, beta: float, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Quota-split, stratified draws within each pool, and normalised weights (float32)."""
        draws, pool, rank = self._batch_layout(batch_size)
        u = torch.rand(batch_size, generator=generator, dtype=torch.float64, device=self.device)
        total = self.tree.total()
        seg = (total / draws.clamp(min=1)).index_select(0, pool)
        slots = self.tree.find((rank + u) * seg, pool)
        scale = self.counts / total  # N_r / T_r (nan for empty pools, which are never drawn)
        worst = torch.where(draws > 0, scale * self.tree.min(), torch.inf).amin()
        ratio = self.tree.get(slots, pool) * scale.index_select(0, pool) / worst
        return slots, ratio.pow_(-beta).float()

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(pool_of=self.pool_of.clone(), filled=self.filled.clone())
        return state | {"counts": self.counts.clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.pool_of.copy_(state["pool_of"])
        self.filled.copy_(state["filled"])
        self.counts.copy_(state["counts"])
        self._layout = None
