"""Q-networks. Every network maps ``(window [B, W, F], state [B, S])`` to Q-values ``[B, 3]``."""

from regime_trader.nets.mlp import MLPQNet, build_net

__all__ = ["MLPQNet", "build_net"]
