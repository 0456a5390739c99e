"""Labelled feature frames for files and the CLI (no torch import: the `features` and
`regimes` commands start fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regime_trader.data import load_ohlcv
from regime_trader.errors import DataError
from regime_trader.features import build_features, feature_lookback, feature_names
from regime_trader.regimes import classify_regimes


def feature_frame(source: str, timeframes: str | None = None) -> pd.DataFrame:
    """Raw (unscaled) features of a series, warm-up dropped, plus the ``regime`` label.

    With ``timeframes`` (e.g. ``"5min,60min"``), features of coarser bars are joined causally
    as ``name@tf`` columns (NaN until a coarse bar has closed and its warm-up has passed).
    """
    df = load_ohlcv(source)
    if timeframes:
        from regime_trader.features.timeframes import multi_timeframe_features, parse_timeframes

        lookback = feature_lookback()
        frame = multi_timeframe_features(df, parse_timeframes(timeframes)).iloc[lookback:]
        _check_finite(frame, feature_names(), source)
    else:
        fs = build_features(df)  # raises DataError on non-finite values after the warm-up
        frame, lookback = fs.to_frame(), fs.lookback
    frame["regime"] = classify_regimes(df)[lookback:]
    return frame


def _check_finite(frame: pd.DataFrame, names: list[str], source: str) -> None:
    values = frame[names].to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{source}: feature '{names[col]}' is not finite at {frame.index[row]} after the "
            "warm-up; check the input prices around that bar"
        )
