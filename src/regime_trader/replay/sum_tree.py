"""Batched, vectorized sum tree (with a parallel min tree) over replay slots.

Layout. ``n_trees`` independent trees share one set of tensors, one per level, top level first.
Each tree has ``top`` nodes at level 0 and ``fanout`` times as many at each level below, so the
leaf level holds ``n_leaves = top * fanout**(depth - 1) >= capacity`` leaves (at most about twice
``capacity``). Node ``j`` of a flattened level has its children in row ``j`` of the next level
viewed as ``[-1, fanout]``; tree ``r`` starts at row ``r`` of level 0 viewed as ``[-1, top]``.
With ``fanout=2`` this is the textbook binary sum tree; the default ``fanout=32`` gives the same
O(log N) work per item in 4 levels instead of 20 at a million slots, and every level is one
batch of tensor ops, so a call costs ``depth`` op rounds whatever the batch size.

Values are float64. Empty leaves hold 0 in the sum tree and ``+inf`` in the min tree.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor
_BELOW = 1.0 - 2.0**-52  # x * _BELOW < x for every positive float64 x (rounding included)


class SumTree:
    """Sum and min trees over ``n_trees x capacity`` leaves.

    Args:
        capacity: leaves (slots) per tree.
        n_trees: independent trees sharing the slot range (e.g. one per regime).
        fanout: children per node (2 = binary tree).
        device: where the tensors live.

    Examples:
        >>> tree = SumTree(5)
        >>> tree.update(torch.tensor([0, 3]), torch.tensor([1.0, 3.0]))
        >>> tree.total().tolist(), tree.find(torch.tensor([0.5, 1.5])).tolist()
        ([4.0], [0, 3])
    """

    def __init__(
        self,
        capacity: int,
        *,
        n_trees: int = 1,
        fanout: int = 32,
        device: torch.device | str = "cpu",
    ) -> None:
        if capacity < 1 or n_trees < 1 or fanout < 2:
            raise ValueError(
                f"need capacity >= 1, n_trees >= 1, fanout >= 2; "
                f"got {capacity}, {n_trees}, {fanout}"
            )
        self.capacity, self.n_trees, self.fanout = int(capacity), int(n_trees), int(fanout)
        self.device = torch.device(device)
        depth = 1
        while fanout**depth < capacity:
            depth += 1
        self.top = math.ceil(capacity / fanout ** (depth - 1))
        self.widths = [self.top] + [fanout] * (depth - 1)
        sizes = [n_trees * self.top * fanout**d for d in range(depth)]
        self.n_leaves = sizes[-1] // n_trees
        dev = self.device
        self.sums = [torch.zeros(s, dtype=torch.float64, device=dev) for s in sizes]
        self.mins = [torch.full((s,), math.inf, dtype=torch.float64, device=dev) for s in sizes]
        self._last = torch.zeros(sizes[-1], dtype=torch.int32, device=dev)  # dedupe scratch
        # per-tree views [n_trees, size] and sibling rows [n_trees, size / width, width]
        self._by_tree = [(s.view(n_trees, -1), m.view(n_trees, -1)) for s, m in self._levels()]
        self._rows = [
            (s.view(n_trees, -1, w), m.view(n_trees, -1, w))
            for (s, m), w in zip(self._levels(), self.widths, strict=True)
        ]

    def _levels(self) -> list[tuple[Tensor, Tensor]]:
        return list(zip(self.sums, self.mins, strict=True))

    @property
    def depth(self) -> int:
        """Levels, leaves included."""
        return len(self.sums)

    def _leaf(self, slots: Tensor, trees: Tensor | None) -> Tensor:
        return slots if trees is None else trees * self.n_leaves + slots

    def total(self) -> Tensor:
        """Sum of the leaves of each tree, ``[n_trees]``."""
        return self.sums[0].view(self.n_trees, self.top).sum(1)

    def min(self) -> Tensor:
        """Smallest non-empty leaf of each tree, ``[n_trees]`` (``inf`` when empty)."""
        return self.mins[0].view(self.n_trees, self.top).amin(1)

    def get(self, slots: Tensor, trees: Tensor | None = None) -> Tensor:
        """Leaf values at ``slots`` (of ``trees``, default tree 0)."""
        return self.sums[-1].index_select(0, self._leaf(slots, trees))

    def update(
        self, slots: Tensor, values: Tensor, trees: Tensor | None = None, *, unique: bool = False
    ) -> None:
        """Set leaves ``(trees, slots)`` to ``values`` then recompute their ancestors.

        Duplicate leaves: the last write wins (its value is copied to every duplicate before the
        scatter, so the result does not depend on scatter order). ``unique=True`` promises no
        duplicates and skips that step. A value of 0 empties the leaf.
        """
        leaf = self._leaf(slots, trees)
        values = values.to(torch.float64)
        if not unique:
            order = torch.arange(leaf.shape[0], dtype=torch.int32, device=leaf.device)
            last = self._last.scatter_reduce_(0, leaf, order, "amax", include_self=False)
            values = values.index_select(0, last.index_select(0, leaf))
        # index_copy_ may write duplicates in any order: they carry equal values by now
        self.sums[-1].index_copy_(0, leaf, values)
        self.mins[-1].index_copy_(0, leaf, torch.where(values > 0, values, math.inf))
        node, fan = leaf, self.fanout
        for d in range(self.depth - 1, 0, -1):
            node = torch.div(node, fan, rounding_mode="floor")
            sums = self.sums[d].view(-1, fan).index_select(0, node).sum(1)
            self.sums[d - 1].index_copy_(0, node, sums)
            mins = self.mins[d].view(-1, fan).index_select(0, node).amin(1)
            self.mins[d - 1].index_copy_(0, node, mins)

    def update_range(self, start: int, values: Tensor) -> None:
        """Set leaves ``start .. start + n - 1`` of every tree to ``values`` ``[n_trees, n]``.

        The contiguous twin of `update` for pushes: slice copies instead of scatters, and each
        level recomputes only the (few) parents above the range.
        """
        values = values.to(torch.float64).reshape(self.n_trees, -1)
        lo, hi, fan = start, start + values.shape[1], self.fanout
        if lo < 0 or hi > self.capacity:
            raise ValueError(f"leaf range [{lo}, {hi}) is outside [0, {self.capacity})")
        leaf_sums, leaf_mins = self._by_tree[-1]
        leaf_sums[:, lo:hi] = values
        leaf_mins[:, lo:hi] = torch.where(values > 0, values, math.inf)
        for d in range(self.depth - 1, 0, -1):
            lo, hi = lo // fan, (hi - 1) // fan + 1
            sums, mins = self._by_tree[d - 1]
            rows_sum, rows_min = self._rows[d]
            sums[:, lo:hi] = rows_sum[:, lo:hi].sum(2)
            mins[:, lo:hi] = rows_min[:, lo:hi].amin(2)

    def find(self, prefix: Tensor, trees: Tensor | None = None) -> Tensor:
        """Slots whose cumulative-sum interval holds ``prefix`` (in tree ``trees``).

        For one tree with leaves ``p``: the smallest ``i`` with ``cumsum(p)[i] > prefix``, i.e.
        ``searchsorted(cumsum(p), prefix, side="right")``. Prefixes are clamped below each
        row's total (``x * (1 - 2**-52)`` is the largest step that is always
        strictly below a positive float64 ``x``), so an empty leaf is never returned as long as the tree is non-empty.
        """
        node = (
            torch.zeros_like(prefix, dtype=torch.int64) if trees is None else trees.to(torch.int64)
        )
        prefix = prefix.to(torch.float64).unsqueeze(1)
        for d, width in enumerate(self.widths):
            rows = self.sums[d].view(-1, width).index_select(0, node)
            cum = rows.cumsum(1)
            prefix = torch.minimum(prefix, cum[:, -1:] * _BELOW)
            child = torch.searchsorted(cum, prefix, right=True)
            prefix = prefix - (cum - rows).gather(1, child)
            node = child.squeeze(1).add(node, alpha=width)
        return node if trees is None else node - trees * self.n_leaves

    def _rebuild_mins(self) -> None:
        """Recompute the min levels from the sum leaves (exact: a minimum never rounds)."""
        leaves = self.sums[-1]
        self.mins[-1].copy_(torch.where(leaves > 0, leaves, math.inf))
        for d in range(self.depth - 1, 0, -1):
            self.mins[d - 1].copy_(self.mins[d].view(-1, self.fanout).amin(1))

    def state_dict(self) -> dict:
        """Every sum level (so a restored tree is bit-identical) and the shape."""
        return {
            "sums": [s.clone() for s in self.sums],
            "capacity": self.capacity,
            "n_trees": self.n_trees,
            "fanout": self.fanout,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a `state_dict` into a tree of the same shape; min levels are recomputed."""
        shape = (state["capacity"], state["n_trees"], state["fanout"])
        if shape != (self.capacity, self.n_trees, self.fanout):
            raise ValueError(
                f"sum tree shape (capacity, n_trees, fanout) {shape} does not match "
                f"{(self.capacity, self.n_trees, self.fanout)}; build the buffer with the saved config"
            )
        for level, saved in zip(self.sums, state["sums"], strict=True):
            level.copy_(saved.to(self.device, torch.float64))
        self._rebuild_mins()
