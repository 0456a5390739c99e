"""Replay: index-based storage + samplers (observations gathered from MarketData at sample time).

`ReplayBuffer` = `IndexStorage` + a sampler (`UniformSampler`, `PrioritizedSampler`,
`RegimeAwareSampler`); `build_replay` picks the sampler from `ReplayConfig`.
"""

from regime_trader.replay.buffer import ReplayBuffer, build_replay
from regime_trader.replay.samplers import (
    PrioritizedSampler,
    RegimeAwareSampler,
    Sampler,
    UniformSampler,
    beta_schedule,
)
from regime_trader.replay.storage import IndexStorage
from regime_trader.replay.sum_tree import SumTree

__all__ = [
    "IndexStorage",
    "PrioritizedSampler",
    "RegimeAwareSampler",
    "ReplayBuffer",
    "Sampler",
    "SumTree",
    "UniformSampler",
    "beta_schedule",
    "build_replay",
]
