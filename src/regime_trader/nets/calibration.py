"""Post-training calibration: lean toward buying when the model believes in an uptrend.

Shapes: ``B`` batch, ``A`` actions (3: hold, sell, buy), ``K`` regimes (4).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class UptrendCalibrator(nn.Module):
    """Action probabilities from Q-values, with the buy logit raised in uptrends.

    ``probs = softmax(q / temperature + bonus * onehot(buy_action))`` with
    ``bonus = boost * clamp((p_up - threshold) / (1 - threshold), 0, 1)``: no boost while the
    uptrend probability ``p_up`` is at or below ``threshold``, then a boost rising linearly to
    ``boost`` at ``p_up = 1`` (with ``threshold=0`` the boost is exactly ``boost * p_up``).

    Guarantees: rows sum to 1 and lie in ``[0, 1]`` (a softmax); the buy probability never
    decreases as ``p_up`` rises (the buy logit is non-decreasing in ``p_up``, the others are
    fixed); the inputs are never modified. Working on logits rather than adding to a
    probability and renormalising keeps the boost from swamping a near-certain sell.

    The module has no parameters: the settings are plain attributes, stored in the model
    package's ``calibration.json`` via `to_dict` / `from_dict`.

    Args:
        boost: largest addition to the buy logit (in units of ``q / temperature``); >= 0.
        threshold: uptrend probability below which nothing changes; in ``[0, 1)``.
        temperature: softmax temperature applied to the Q-values; > 0.
        buy_action: index of the buy action in the Q-values.
        uptrend_index: index of the uptrend regime in the regime probabilities.

    Raises:
        ValueError: on a negative boost, a threshold outside ``[0, 1)`` or temperature <= 0.

    Examples:
        >>> cal = UptrendCalibrator(boost=1.0, threshold=0.0)
        >>> probs = cal(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
        >>> round(float(probs[0, 2]), 3)  # e / (2 + e)
        0.576
    """

    def __init__(
        self,
        boost: float = 1.0,
        threshold: float = 0.5,
        temperature: float = 1.0,
        buy_action: int = 2,
        uptrend_index: int = 0,
    ) -> None:
        super().__init__()
        if boost < 0:
            raise ValueError(f"boost must be >= 0, got {boost}")
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.boost = float(boost)
        self.threshold = float(threshold)
        self.temperature = float(temperature)
        self.buy_action = int(buy_action)
        self.uptrend_index = int(uptrend_index)

    def bonus(self, regime_probs: torch.Tensor) -> torch.Tensor:
        """The buy-logit boost ``[B]`` for regime probabilities ``[B, K]``."""
        p_up = regime_probs[:, self.uptrend_index]
        scaled = (p_up - self.threshold) / (1.0 - self.threshold)
        return self.boost * scaled.clamp(0.0, 1.0)

    def forward(self, q_values: torch.Tensor, regime_probs: torch.Tensor) -> torch.Tensor:
        """Calibrated action probabilities.

        Args:
            q_values: ``[B, A]`` Q-values.
            regime_probs: ``[B, K]`` regime PROBABILITIES (apply ``softmax(-1)`` to the
                networks' regime logits first).

        Returns:
            ``[B, A]`` action probabilities, rows summing to 1 (new tensor).

        Raises:
            ValueError: on inputs of the wrong rank or mismatched batch sizes.
        """
        if q_values.dim() != 2 or regime_probs.dim() != 2:
            raise ValueError(
                f"expected q_values [B, A] and regime_probs [B, K], "
                f"got {list(q_values.shape)} and {list(regime_probs.shape)}"
            )
        if q_values.shape[0] != regime_probs.shape[0]:
            raise ValueError(f"batch sizes differ: {q_values.shape[0]} vs {regime_probs.shape[0]}")
        buy = torch.zeros_like(q_values)
        buy[:, self.buy_action] = 1.0  # a fresh tensor: the inputs stay untouched
        bonus = self.bonus(regime_probs).to(q_values.dtype).unsqueeze(1)
        return (q_values / self.temperature + bonus * buy).softmax(dim=1)

    def to_dict(self) -> dict[str, Any]:
        """Settings as a JSON-ready dict (round-trips through `from_dict`)."""
        return {
            "boost": self.boost,
            "threshold": self.threshold,
            "temperature": self.temperature,
            "buy_action": self.buy_action,
            "uptrend_index": self.uptrend_index,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UptrendCalibrator:
        """Rebuild from `to_dict` output."""
        return cls(**data)

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return ", ".join(f"{k}={v}" for k, v in self.to_dict().items())
