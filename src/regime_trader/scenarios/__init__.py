"""Synthetic scenarios with known regimes, and the plan's augmentations of real data."""

from regime_trader.scenarios.augment import (
    generate_synthetic_plateaus,
    generate_synthetic_uptrends,
)
from regime_trader.scenarios.generators import (
    SCENARIO_KINDS,
    ScenarioParams,
    default_params,
    generate,
    markov_regimes,
    transition_matrix,
)

__all__ = [
    "SCENARIO_KINDS",
    "ScenarioParams",
    "default_params",
    "generate",
    "generate_synthetic_plateaus",
    "generate_synthetic_uptrends",
    "markov_regimes",
    "transition_matrix",
]
