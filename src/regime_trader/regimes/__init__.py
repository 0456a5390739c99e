"""Market regimes: scale-free rule-based labels (uptrend, downtrend, plateau, oscillating).

The filtered Markov-switching detector lives in :mod:`regime_trader.regimes.markov` (not
imported here: it loads statsmodels).
"""

from regime_trader.regimes.rules import (
    DOWNTREND,
    OSCILLATING,
    PLATEAU,
    REGIME_NAMES,
    UNKNOWN,
    UPTREND,
    apply_min_duration,
    classify_regimes,
    label_quality,
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
    "apply_min_duration",
    "classify_regimes",
    "label_quality",
    "mean_run_length",
    "regime_inputs",
    "regime_lookback",
    "regime_shares",
]
