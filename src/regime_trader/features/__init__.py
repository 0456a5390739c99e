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
