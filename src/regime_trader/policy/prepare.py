"""From a data source to `MarketData`: load, features, regimes, split, scale (train split only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from regime_trader.config import Config, EnvConfig
from regime_trader.data import Split, chronological_split, load_ohlcv
from regime_trader.data.split_report import (
    check_backtest_bars,
    check_enough_bars,
    part_minimums,
    split_record,
)
from regime_trader.envs import spec
from regime_trader.envs.market import MarketData
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import FeatureSet, Scaler, build_features
from regime_trader.features.pipeline import feature_lookback
from regime_trader.policy.metrics import bars_per_year
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
    bars_per_year: float  # the annualisation of sizes and metrics (a policy keeps its own)


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
    bars_per_year: float | None = None,
) -> Prepared:
    """Build features, labels and the chronological split; fit the scaler on train rows.

    The observation features are ``build_features(df, cfg.features)``: the base features plus,
    with ``features.timeframes``, the causal coarse-bar columns ``name@tf``. A run's
    ``config.yaml`` holds the timeframes and its scaler the column names, so a backtest of the
    run rebuilds the same columns (a mismatch raises).

    Args:
        cfg: the run's config (data, features, regimes, env sections are used).
        ohlcv: a frame to use instead of loading ``cfg.data.source``.
        scaler: a fitted scaler (e.g. from a trained run); fitted on the train split if None.
        device: where `MarketData` lives.
        split: compute the train/val/test split (False: the whole series is one test period).
        bars_per_year: the policy's own bars per year (saved in ``features.json`` at
            training), so vol-target sizes are the same on any slice of bars; None: this
            frame's calendar.

    Raises:
        ConfigError: If ``scaler`` was fitted on other feature columns than ``cfg`` builds.
    """
    df = load_frame(cfg, ohlcv)
    label = cfg.data.source if ohlcv is None else "the given OHLCV frame"
    _check_length(cfg, len(df), split, label)
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
            min_rows=part_minimums(cfg.env.window),
            source=label,
            embargo_name="env.window",
        )
    else:
        n = len(fs.index)
        parts = Split(train=slice(0, 0), val=slice(0, 0), test=slice(0, n))
    if scaler is None:
        scaler = Scaler.fit(fs.values[parts.train], fs.names)
    elif list(scaler.names) != fs.names:
        extra = sorted(set(fs.names) ^ set(scaler.names)) or ["(same names, other order)"]
        raise ConfigError(
            f"features: the run's scaler has {len(scaler.names)} columns, this config builds "
            f"{len(fs.names)} (differing: {', '.join(extra[:4])}); use the run's own "
            "features section (timeframes, periods)"
        )
    values = scaler.transform(fs.values)
    bpy = bars_per_year or frame_bars_per_year(df)
    size = bar_sizes(cfg.env, df, bpy)
    market = MarketData.build(
        values,
        rows,
        np.asarray(labels),
        names=fs.names,
        fill=cfg.env.fill,
        device=device,
        size=None if size is None else size[fs.lookback :],
    )
    return Prepared(rows, fs, market, parts, scaler, bpy)


def frame_bars_per_year(frame: pd.DataFrame) -> float:
    """Bars per year of ``frame``'s calendar (its timestamps, not its prices)."""
    return bars_per_year(pd.DatetimeIndex(frame.index))


def bar_sizes(env: EnvConfig, frame: pd.DataFrame, bpy: float | None = None) -> np.ndarray | None:
    """``env.sizing``'s per-bar size multipliers over every row of ``frame`` (None: full).

    Computed on the whole frame before the feature warm-up is cut, so the vol window is
    filled by the first decision bar. Causal in prices; annualised with ``bpy`` (the
    policy's bars per year; default: the frame's calendar).
    """
    if env.sizing == "full":
        return None
    close = frame["close"].to_numpy(np.float64)
    bpy = bpy or frame_bars_per_year(frame)
    return spec.sizes_vol_target(close, env.vol_window, env.target_vol, bpy, env.max_leverage)


def _check_length(cfg: Config, n_bars: int, split: bool, label: str) -> None:
    """One-line error naming the file when the series is too short to train (or backtest)."""
    d, window = cfg.data, cfg.env.window
    warmup = feature_lookback(cfg.features)
    if not split:
        check_backtest_bars(n_bars, source=label, warmup=warmup, window=window)
        return
    fractions = None if d.train_end is not None else d.fractions
    check_enough_bars(
        n_bars, source=label, warmup=warmup, window=window, embargo=window, fractions=fractions
    )


def split_summary(data: Prepared, cfg: Config) -> dict:
    """The split ``data`` uses, as saved in a run's ``split.json`` (see ``split_record``)."""
    d = cfg.data
    return split_record(
        data.split,
        data.market.index,
        source=d.source,
        warmup=data.features.lookback,
        embargo=cfg.env.window,
        train_end=d.train_end,
        val_end=d.val_end,
        fractions=d.fractions,
    )
