"""From a data source to `MarketData`: load, features, regimes, split, scale (train split only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from regime_trader.config import Config
from regime_trader.data import Split, chronological_split, load_ohlcv
from regime_trader.envs.market import MarketData
from regime_trader.errors import DataError
from regime_trader.features import FeatureSet, Scaler, build_features
from regime_trader.regimes import classify_regimes
from regime_trader.utils.dates import rows_between


@dataclass(frozen=True)
class Prepared:
    """Everything a run needs about one series; row positions refer to ``market``."""

    ohlcv: pd.DataFrame  # rows aligned with market (after the feature warm-up)
    features: FeatureSet  # raw (unscaled)
    market: MarketData
    split: Split
    scaler: Scaler


def load_frame(cfg: Config, ohlcv: pd.DataFrame | None = None) -> pd.DataFrame:
    """The configured series, cut to ``data.start``/``data.end`` (inclusive)."""
    df = load_ohlcv(cfg.data.source) if ohlcv is None else ohlcv
    start, end = cfg.data.start, cfg.data.end
    if start or end:
        lo, hi = rows_between(pd.DatetimeIndex(df.index), start, end)
        df = df.iloc[lo:hi]
        if df.empty:
            raise DataError(f"{cfg.data.source}: no bars between {start} and {end}")
    return df


def prepare(
    cfg: Config,
    *,
    ohlcv: pd.DataFrame | None = None,
    scaler: Scaler | None = None,
    device: torch.device | str = "cpu",
    split: bool = True,
) -> Prepared:
    """Build features, labels and the chronological split; fit the scaler on train rows.

    Args:
        cfg: the run's config (data, features, regimes, env sections are used).
        ohlcv: a frame to use instead of loading ``cfg.data.source``.
        scaler: a fitted scaler (e.g. from a trained run); fitted on the train split if None.
        device: where `MarketData` lives.
        split: compute the train/val/test split (False: the whole series is one test period).
    """
    df = load_frame(cfg, ohlcv)
    fs = build_features(df, cfg.features)
    labels = classify_regimes(df, cfg.regimes)[fs.lookback :]
    rows = df.iloc[fs.lookback :]
    if split:
        d = cfg.data
        parts = chronological_split(
            fs.index,
            train_end=d.train_end,
            val_end=d.val_end,
            fractions=d.fractions,
            embargo=cfg.env.window,
        )
    else:
        n = len(fs.index)
        parts = Split(train=slice(0, 0), val=slice(0, 0), test=slice(0, n))
    if scaler is None:
        scaler = Scaler.fit(fs.values[parts.train], fs.names)
    values = scaler.transform(fs.values)
    market = MarketData.build(
        values, rows, np.asarray(labels), names=fs.names, fill=cfg.env.fill, device=device
    )
    return Prepared(rows, fs, market, parts, scaler)
