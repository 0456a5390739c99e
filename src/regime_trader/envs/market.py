"""`MarketData`: one bundle per series (features, prices, regimes), moved to a device once.

Envs and replay index into it; they never copy windows.
"""

from __future__ import annotations

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
        size: per-bar size multiplier ``[T]`` float64 on ``device`` (docs/sizing.md): the
            notional of decision t is ``side * size[t]``; ones (full sizing) by default.
    """

    features: torch.Tensor
    growth: torch.Tensor
    regimes: torch.Tensor
    index: pd.DatetimeIndex
    open: np.ndarray
    close: np.ndarray
    fill: np.ndarray
    names: tuple[str, ...]
    size: torch.Tensor = None  # type: ignore[assignment]  # None: ones (see __post_init__)

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
        size: np.ndarray | None = None,
    ) -> MarketData:
        """Bundle scaled ``features`` with the OHLCV rows they belong to (same length), and
        the per-bar ``size`` multipliers (default ones)."""
        if not (len(features) == len(ohlcv) == len(regimes)):
            raise ValueError("features, ohlcv and regimes must have the same number of rows")
        if size is not None and len(size) != len(ohlcv):
            raise ValueError(f"size has {len(size)} rows, expected {len(ohlcv)}")
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
            size=torch.as_tensor(
                np.ones(len(close)) if size is None else np.asarray(size, np.float64),
                device=device,
            ),
        )

    def __post_init__(self) -> None:
        if self.size is None:
            ones = torch.ones(len(self.index), dtype=torch.float64, device=self.features.device)
            object.__setattr__(self, "size", ones)
        # row-major features: a window is one contiguous block of W*F floats (see `windows`)
        if not self.features.is_contiguous():
            object.__setattr__(self, "features", self.features.contiguous())

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

        The windows of a row-major ``[T, F]`` array are the overlapping rows of a strided
        ``[T - W + 1, W, F]`` view, so the gather is one ``index_select`` copying one
        contiguous block per window (not W rows per window). Bars before ``W - 1`` or past
        the end are rejected, never wrapped around.
        """
        n_bars, n_feat = self.features.shape
        if window > n_bars:
            raise ValueError(f"window {window} is longer than the series ({n_bars} bars)")
        view = self.features.as_strided((n_bars - window + 1, window, n_feat), (n_feat, n_feat, 1))
        first = (t - (window - 1)).reshape(-1)
        return view.index_select(0, first).view(*t.shape, window, n_feat)
