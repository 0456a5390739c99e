"""Agents: double DQN and exploration schedules."""

from regime_trader.agents.dqn import DQNAgent
from regime_trader.agents.exploration import linear_epsilon

__all__ = ["DQNAgent", "linear_epsilon"]
