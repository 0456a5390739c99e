"""Circular storage of transitions by index: ``(t, position, action, reward, next_position, done, regime)``.

Memory is O(transitions), not O(transitions x W x F): windows are gathered at sample time.
"""

from __future__ import annotations

import torch


def ring_ranges(start: int, n: int, capacity: int) -> list[tuple[int, int, int]]:
    """Slot ranges ``(lo, hi, offset)`` that ``n`` items written from ``start`` occupy in a
    ring of ``capacity`` slots: one range, or two when the write wraps (``offset`` is the
    position in the batch of slot ``lo``).

    Examples:
        >>> ring_ranges(3, 4, 5)
        [(3, 5, 0), (0, 2, 2)]
    """
    if not 0 <= n <= capacity or not 0 <= start < capacity:
        raise ValueError(
            f"cannot write {n} items from slot {start} into a ring of capacity {capacity} "
            "(need n <= capacity)"
        )
    if n == 0:
        return []
    first = min(n, capacity - start)
    return [(start, start + first, 0)] + ([(0, n - first, first)] if first < n else [])


class IndexStorage:
    """Fixed-capacity ring buffer of transition fields on one device."""

    FIELDS = {
        "t": torch.long,
        "position": torch.float32,
        "action": torch.long,
        "reward": torch.float32,
        "next_position": torch.float32,
        "done": torch.float32,
        "regime": torch.long,
    }

    def __init__(self, capacity: int, device: torch.device | str = "cpu") -> None:
        self.capacity = int(capacity)
        self.device = torch.device(device)
        # fields of one dtype share one [capacity, k] tensor, so a sample is two gathers,
        # not seven; `data` holds column views into them
        self._packed = {
            dtype: torch.zeros(
                self.capacity,
                sum(d == dtype for d in self.FIELDS.values()),
                dtype=dtype,
                device=self.device,
            )
            for dtype in dict.fromkeys(self.FIELDS.values())
        }
        self._columns: dict[str, tuple[torch.dtype, int]] = {}
        for dtype in self._packed:
            for i, key in enumerate(k for k, d in self.FIELDS.items() if d == dtype):
                self._columns[key] = (dtype, i)
        self.data = {k: self._packed[d][:, i] for k, (d, i) in self._columns.items()}
        self.cursor = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, **fields: torch.Tensor) -> torch.Tensor:
        """Append a batch (every field ``[N]``, ``N <= capacity``); returns the slots written.

        Writes are contiguous slice copies (split in two on a wrap), not scatters.
        """
        n = int(fields["t"].shape[0])
        for lo, hi, off in ring_ranges(self.cursor, n, self.capacity):
            whole = hi - lo == n
            for key in self.FIELDS:
                self.data[key][lo:hi] = fields[key] if whole else fields[key][off : off + hi - lo]
        slots = (torch.arange(n, device=self.device) + self.cursor) % self.capacity
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        return slots

    def get(self, slots: torch.Tensor) -> dict[str, torch.Tensor]:
        """Fields at ``slots``."""
        rows = {d: t.index_select(0, slots) for d, t in self._packed.items()}
        return {k: rows[d][:, i] for k, (d, i) in self._columns.items()}

    def state_dict(self) -> dict:
        """The stored fields (first ``size`` slots), cursor and size."""
        return {
            "data": {k: v[: self.size].clone() for k, v in self.data.items()},
            "cursor": self.cursor,
            "size": self.size,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a `state_dict` into a storage of the same capacity."""
        self.size, self.cursor = int(state["size"]), int(state["cursor"])
        for k, v in state["data"].items():
            self.data[k][: self.size] = v.to(self.device)
