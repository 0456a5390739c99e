"""Training: `train(cfg)` and the pieces it reads top to bottom."""

from regime_trader.training.loop import TrainResult, train
from regime_trader.training.prepare import Prepared, prepare

__all__ = ["Prepared", "TrainResult", "prepare", "train"]
