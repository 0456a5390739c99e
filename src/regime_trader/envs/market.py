"""`MarketData`: one bundle per series (features, prices, regimes), moved to a device once.

Envs and replay index into it; they never copy windows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from regime_trader.envs import spec


@dataclass(frozen=True)
class MarketData:
    """Aligned arrays over T bars (rows after the feature warm-up).

    Attributes:
        features: scaled features ``[T, F]`` float32 on ``device``.
        growth: ``fill[t+1] / fill[t]`` ``[T]`` float64 on ``device`` (NaN at the end).
        regimes: rule-based labels ``[T]`` int64 on ``device`` (-1 unknown).
        index: bar timestamps.
        open, close, fill: float64 NumPy price arrays ``[T]``.
        names: feature names.
    """

    features: torch.Tensor
    growth: torch.Tensor
    regimes: torch.Tensor
    index: pd.DatetimeIndex
    open: np.ndarray
    close: np.ndarray
    fill: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def build(
        cls,
        features: np.ndarray,
        ohlcv: pd.DataFrame,
        regimes: np.ndarray,
        *,
        names: list[str] | tuple[str, ...],
        fill: str = "next_open",
        device: torch.device | str = "cpu",
    ) -> MarketData:
        """Bundle scaled ``features`` with the OHLCV rows they belong to (same length)."""
        if not (len(features) == len(ohlcv) == len(regimes)):
            raise ValueError("features, ohlcv and regimes must have the same number of rows")
        open_ = ohlcv["open"].to_numpy(np.float64)
        close = ohlcv["close"].to_numpy(np.float64)
        fills = spec.fill_prices(open_, close, fill)
        growth = spec.growth_factors(fills)
        return cls(
            features=torch.as_tensor(np.asarray(features, np.float32), device=device),
            growth=torch.as_tensor(growth, device=device),
            regimes=torch.as_tensor(np.asarray(regimes, np.int64), device=device),
            index=pd.DatetimeIndex(ohlcv.index),
            open=open_,
            close=close,
            fill=fills,
            names=tuple(names),
        )

    def __len__(self) -> int:
        return len(self.index)

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def device(self) -> torch.device:
        return self.features.device

    def windows(self, t: torch.Tensor, window: int) -> torch.Tensor:
        """Gather feature windows ending at bars ``t`` → ``[len(t), W, F]`` (bars <= t only).

        One ``index_select`` over flattened bar numbers: cheaper than advanced indexing on a
        CPU, and it rejects negative bars instead of wrapping around.
        """
        bars = (t.unsqueeze(-1) + _offsets(window, self.device)).reshape(-1)
        return self.features.index_select(0, bars).view(*t.shape, window, -1)


@functools.lru_cache(maxsize=64)
def _offsets(window: int, device: torch.device) -> torch.Tensor:
    """``[1 - W, ..., 0]``: bar offsets of a window ending at its last bar (cached: hot path)."""
    return torch.arange(1 - window, 1, device=device)
