"""Market regimes: scale-free rule-based labels (uptrend, downtrend, plateau, oscillating).

The filtered Markov-switching detector lives in :mod:`regime_trader.regimes.markov` (not
imported here: it loads statsmodels); :mod:`regime_trader.regimes.table` measures what the
labels mean on real data (share, run length, forward buy-and-hold return per regime).
"""

from regime_trader.regimes.rules import (
    DOWNTREND,
    OSCILLATING,
    PLATEAU,
    REGIME_NAMES,
    SHORT_HORIZON,
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
    "SHORT_HORIZON",
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
