"""Hyper-parameter search over `train`: the plan's grid, Optuna, Ray Tune (docs/tracking_and_tuning.md).

Optuna and Ray are imported only by the backend that needs them.
"""

from regime_trader.tuning.run import BACKENDS, load_grid, tune, tune_command
from regime_trader.tuning.space import PLAN_GRID, PLAN_KEYS, SEARCH_SPACE, apply_params

__all__ = [
    "BACKENDS",
    "PLAN_GRID",
    "PLAN_KEYS",
    "SEARCH_SPACE",
    "apply_params",
    "load_grid",
    "tune",
    "tune_command",
]
