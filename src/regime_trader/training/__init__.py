"""Training: `train(cfg)` and the pieces it reads top to bottom.

Names resolve on first use (PEP 562): `training.tracking` imports without torch.
"""

from __future__ import annotations

from regime_trader.utils.lazy import lazy_getattr

_WHERE = {
    "Prepared": "regime_trader.policy.prepare",
    "prepare": "regime_trader.policy.prepare",
    "TrainResult": "regime_trader.training.loop",
    "train": "regime_trader.training.loop",
}

__all__ = sorted(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)
