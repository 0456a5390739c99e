"""Market regimes: scale-free rule-based labels (uptrend, downtrend, plateau, oscillating)."""

from regime_trader.regimes.rules import (
    DOWNTREND,
    OSCILLATING,
    PLATEAU,
    REGIME_NAMES,
    UNKNOWN,
    UPTREND,
    classify_regimes,
    mean_run_length,
    regime_inputs,
    regime_lookback,
    regime_shares,
)

__all__ = [
    "DOWNTREND",
    "OSCILLATING",
    "PLATEAU",
    "REGIME_NAMES",
    "UNKNOWN",
    "UPTREND",
    "classify_regimes",
    "mean_run_length",
    "regime_inputs",
    "regime_lookback",
    "regime_shares",
]
