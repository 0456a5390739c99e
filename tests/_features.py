"""A feature config with short periods, so that tests need only a few hundred bars."""

from __future__ import annotations

from regime_trader.config import FeatureConfig

SMALL_FEATURES = FeatureConfig(
    adx_period=3,
    slope_period=3,
    persistence_window=3,
    rsi_period=3,
    stoch_k=3,
    stoch_slow=2,
    stoch_d=2,
    bb_period=3,
    return_lags=(1, 2),
    vol_window=3,
)
