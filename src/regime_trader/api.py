"""The public facade for library users: the verbs, re-exported. Nothing inside the package
imports this module (tests/test_architecture.py holds it so); it imports only downward.
"""

from __future__ import annotations

from regime_trader.data import load_ohlcv
from regime_trader.frames import feature_frame
from regime_trader.package import build_package, load, load_model
from regime_trader.policy.policy import Policy, load_folder
from regime_trader.workflows.demo import demo_run
from regime_trader.workflows.runs import (
    backtest_run,
    calibrate_run,
    load_config,
    resume_run,
    train_run,
)

__all__ = [
    "Policy",
    "backtest_run",
    "build_package",
    "calibrate_run",
    "demo_run",
    "feature_frame",
    "load",
    "load_config",
    "load_folder",
    "load_model",
    "load_ohlcv",
    "resume_run",
    "train_run",
]
