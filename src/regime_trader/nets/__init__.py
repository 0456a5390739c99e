"""Q-networks. Every network maps ``(window [B, W, F], state [B, S])`` to Q-values ``[B, 3]``;
networks with a regime detector return ``(q [B, 3], regime_logits [B, 4])``."""

from regime_trader.nets.attention import TemporalAttentionLayer
from regime_trader.nets.calibration import UptrendCalibrator
from regime_trader.nets.enhanced_dqn import DuelingOutput, EnhancedDQN
from regime_trader.nets.ensemble import EnsembleTrader
from regime_trader.nets.mlp import MLPQNet, build_net
from regime_trader.nets.pathways import REGIME_NAMES, MarketRegimePathways

__all__ = [
    "REGIME_NAMES",
    "DuelingOutput",
    "EnhancedDQN",
    "EnsembleTrader",
    "MLPQNet",
    "MarketRegimePathways",
    "TemporalAttentionLayer",
    "UptrendCalibrator",
    "build_net",
]
