"""Training: `train(cfg)` and the pieces it reads top to bottom.

Names resolve on first use (PEP 562): `training.tracking` imports without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Prepared": "regime_trader.policy.prepare",
    "prepare": "regime_trader.policy.prepare",
    "TrainResult": "regime_trader.training.loop",
    "train": "regime_trader.training.loop",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'regime_trader.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
