"""regime-trader: regime-aware deep reinforcement learning for trading."""

from regime_trader.errors import ConfigError, DataError, RegimeTraderError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "RegimeTraderError", "__version__", "load"]


def __getattr__(name: str):  # noqa: ANN202 - lazy: `load` imports torch on first use only
    if name == "load":
        from regime_trader.package import load

        return load
    raise AttributeError(f"module 'regime_trader' has no attribute {name!r}")
