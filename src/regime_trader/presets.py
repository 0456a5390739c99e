"""Named agent set-ups that the demo, walk-forward and A/B comparisons share.

``ORIGINAL`` is the plan's starting point: an MLP double DQN with the plain P&L reward,
uniform replay and no curriculum. ``REGIME_AWARE`` is the plan's answer: the EnhancedDQN
(attention, regime pathways with a detector, LSTM, dueling head) with the regime-aware
reward, regime-aware replay quotas and the synthetic-to-real curriculum. Applied with
``Config.override(**preset)`` on one base config, so both train on the same budget, seed,
bars, envs and update schedule.
"""

from __future__ import annotations

from typing import Any

ORIGINAL: dict[str, dict[str, Any]] = {
    "agent": {"net": "mlp"},
    "reward": {"kind": "pnl"},
    "replay": {"kind": "uniform"},
    "curriculum": {"enabled": False},
}
REGIME_AWARE: dict[str, dict[str, Any]] = {
    "agent": {"net": "enhanced"},
    "reward": {"kind": "regime"},
    "replay": {"kind": "regime"},
    "curriculum": {"enabled": True},
}
PRESETS = {"original": ORIGINAL, "regime_aware": REGIME_AWARE}
