"""regime-trader: regime-aware deep reinforcement learning for trading."""

from regime_trader.errors import ConfigError, DataError, RegimeTraderError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "RegimeTraderError", "__version__"]
