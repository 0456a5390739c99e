"""Training: `train(cfg)` and the pieces it reads top to bottom."""

from regime_trader.policy.prepare import Prepared, prepare
from regime_trader.training.loop import TrainResult, train

__all__ = ["Prepared", "TrainResult", "prepare", "train"]
