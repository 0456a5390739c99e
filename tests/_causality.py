"""Shared by the causality property tests: perturb every bar after t, keep OHLC consistent."""

import numpy as np
import pandas as pd

PRICES = ["open", "high", "low", "close"]


def perturb_after(df: pd.DataFrame, t: int, factor: float, seed: int) -> pd.DataFrame:
    """Scale every bar after row t by `factor` times per-bar noise (OHLC stay consistent)."""
    rng = np.random.default_rng(seed + 1)
    out = df.copy()
    scale = factor * np.exp(rng.normal(0.0, 0.05, len(df) - t - 1))
    out.iloc[t + 1 :, [out.columns.get_loc(c) for c in PRICES]] *= scale[:, None]
    return out
