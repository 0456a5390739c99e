"""Trading environments: one spec (`spec.py`), two engines (Gymnasium and batched torch)."""

from regime_trader.envs.market import MarketData
from regime_trader.envs.spec import BUY, HOLD, SELL
from regime_trader.envs.trading_env import TradingEnv
from regime_trader.envs.vector_env import VectorTradingEnv

__all__ = ["BUY", "HOLD", "SELL", "MarketData", "TradingEnv", "VectorTradingEnv"]
