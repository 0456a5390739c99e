"""regime-trader: regime-aware deep reinforcement learning for trading."""

from collections.abc import Callable
from typing import Any

from regime_trader.errors import ConfigError, DataError, RegimeTraderError
from regime_trader.version import __version__

__all__ = ["ConfigError", "DataError", "RegimeTraderError", "__version__", "load"]


def __getattr__(name: str) -> Callable[..., Any]:  # lazy: `load` imports torch on first use
    if name == "load":  # a model package (hashes checked) or a run folder, as a Policy
        from regime_trader.package import load_model

        return load_model
    raise AttributeError(f"module 'regime_trader' has no attribute {name!r}")
