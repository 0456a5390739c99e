"""Replay: index-based storage + samplers (observations gathered from MarketData at sample time)."""

from regime_trader.replay.buffer import ReplayBuffer
from regime_trader.replay.storage import IndexStorage

__all__ = ["IndexStorage", "ReplayBuffer"]
