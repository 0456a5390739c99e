"""Circular storage of transitions by index: ``(t, position, action, reward, next_position, done, regime)``.

Memory is O(transitions), not O(transitions x W x F): windows are gathered at sample time.
"""

from __future__ import annotations

import torch


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
        self.data = {
            k: torch.zeros(self.capacity, dtype=d, device=self.device)
            for k, d in self.FIELDS.items()
        }
        self.cursor = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, **fields: torch.Tensor) -> torch.Tensor:
        """Append a batch (every field ``[N]``); returns the slots written."""
        n = int(fields["t"].shape[0])
        slots = (torch.arange(n, device=self.device) + self.cursor) % self.capacity
        for key, dtype in self.FIELDS.items():
            self.data[key][slots] = fields[key].to(dtype)
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        return slots

    def get(self, slots: torch.Tensor) -> dict[str, torch.Tensor]:
        """Fields at ``slots``."""
        return {k: v[slots] for k, v in self.data.items()}

    def state_dict(self) -> dict:
        return {
            "data": {k: v[: self.size].clone() for k, v in self.data.items()},
            "cursor": self.cursor,
            "size": self.size,
        }

    def load_state_dict(self, state: dict) -> None:
        self.size, self.cursor = int(state["size"]), int(state["cursor"])
        for k, v in state["data"].items():
            self.data[k][: self.size] = v.to(self.device)
