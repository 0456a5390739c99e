"""Causal, scale-free features: TA-Lib indicators, trend measures and the feature pipeline."""

from regime_trader.features.pipeline import (
    FeatureSet,
    Scaler,
    build_features,
    compute_features,
    feature_lookback,
    feature_names,
)
from regime_trader.features.trend import linreg_slope_frac, trend_persistence

__all__ = [
    "FeatureSet",
    "Scaler",
    "build_features",
    "compute_features",
    "feature_lookback",
    "feature_names",
    "linreg_slope_frac",
    "trend_persistence",
]

# Multi-timeframe (causal) and streaming features.
from regime_trader.features.streaming import FeaturePipeline  # noqa: E402
from regime_trader.features.timeframes import (  # noqa: E402
    multi_timeframe_features,
    multi_timeframe_names,
    parse_timeframes,
    resample_ohlcv,
)

__all__ += [
    "FeaturePipeline",
    "multi_timeframe_features",
    "multi_timeframe_names",
    "parse_timeframes",
    "resample_ohlcv",
]
