"""The plan's two augmentations of real data, done right.

``generate_synthetic_uptrends`` and ``generate_synthetic_plateaus`` cut random windows out of a
real OHLCV frame, reshape each one, and chain the samples into one continuous series. Compared
with the plan's sketches:

* no chained assignment (``base_sample['open'].iloc[0] = ...`` silently does nothing under
  pandas copy-on-write): the windows are gathered into numpy arrays ``[samples, length]`` and
  transformed there, vectorised over bars and samples;
* OHLC stays consistent: open, high and low get the same multiplicative factor as the close
  (the plan divided by the already overwritten close), and high/low are then widened to
  bracket open and close;
* no price jumps at sample joins: each sample is rescaled so that its first open equals the
  previous sample's last close (``pd.concat`` of raw windows jumps between price levels);
* no duplicate index: the output gets a fresh continuous daily UTC calendar and a ``sample``
  column numbering the samples (``pd.concat`` of overlapping windows repeats timestamps);
* randomness comes from an injected ``numpy.random.Generator``, not ``np.random``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regime_trader.data.validation import PRICE_COLUMNS, validate_ohlcv
from regime_trader.scenarios.bars import calendar, enforce_ohlc, to_frame


def generate_synthetic_uptrends(
    real: pd.DataFrame,
    num_samples: int,
    *,
    rng: np.random.Generator,
    length: int = 100,
    strengthening_factor: float = 1.1,
    start: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Chain ``num_samples`` real windows, each turned into (or strengthened as) an uptrend.

    A window whose mean close-to-close return is positive is multiplied bar by bar by the ramp
    ``linspace(1, strengthening_factor, length)`` (the plan's "strengthen"). Any other window
    is first detrended -- divided by ``exp(linspace(0, log(close[-1] / close[0]), length))`` so
    that it ends where it starts, keeping its bar-to-bar noise -- and then multiplied by the
    ramp (the plan's "convert", which replaced the closes by a noise-free line). Open, high and
    low get the same factor as the close, so each bar keeps its shape.

    Args:
        real: Real OHLCV frame (anything :func:`validate_ohlcv` accepts); not modified.
        num_samples: Number of windows (>= 1).
        rng: Source of every random draw (window starts).
        length: Bars per window (>= 2, at most ``len(real)``).
        strengthening_factor: Multiplier of the ramp's last bar (> 0; > 1 makes an uptrend).
        start: First timestamp of the output; ``None`` takes the real frame's first day.

    Returns:
        ``num_samples * length`` bars on a fresh daily UTC calendar: float64 ``open high low
        close volume`` (real volume) and an int64 ``sample`` column (0, 0, ..., 1, ...).
        The frame passes :func:`validate_ohlcv`.

    Raises:
        DataError: If ``real`` is not a valid OHLCV frame or is shorter than ``length``.
        ValueError: On a bad argument, or if chaining overflows the float range.
    """
    if strengthening_factor <= 0:
        raise ValueError(f"strengthening_factor must be > 0, got {strengthening_factor}")
    bars, first = _windows(real, num_samples, length, rng)
    close = bars["close"]
    ramp = np.linspace(1.0, strengthening_factor, length)
    rising = np.mean(close[:, 1:] / close[:, :-1] - 1.0, axis=1) > 0
    net = np.log(close[:, -1] / close[:, 0])
    detrend = np.exp(-np.outer(net, np.linspace(0.0, 1.0, length)))
    factor = np.where(rising[:, None], ramp, ramp * detrend)
    prices = {name: bars[name] * factor for name in PRICE_COLUMNS}
    return _chain(prices, bars["volume"], first if start is None else start)


def generate_synthetic_plateaus(
    real: pd.DataFrame,
    num_samples: int,
    *,
    rng: np.random.Generator,
    length: int = 100,
    noise: float = 0.005,
    start: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Chain ``num_samples`` real windows, each flattened to a plateau around its mean close.

    Per window: ``close[t] = level * exp(noise * z[t])`` with ``level`` the window's mean close
    and ``z`` standard normal; ``open[t] = close[t-1]`` (``open[0] = level``); high and low keep
    the real bar's wicks, ``high = max(open, close) * real_high / max(real_open, real_close)``
    and ``low = min(open, close) * real_low / min(real_open, real_close)`` (the plan drew them
    from the whole series' average range). Volume is the real volume.

    Args:
        real: Real OHLCV frame (anything :func:`validate_ohlcv` accepts); not modified.
        num_samples: Number of windows (>= 1).
        rng: Source of every random draw (window starts, then the noise).
        length: Bars per window (>= 2, at most ``len(real)``).
        noise: Std of the log deviation of the close from the level (>= 0).
        start: First timestamp of the output; ``None`` takes the real frame's first day.

    Returns:
        Frame like :func:`generate_synthetic_uptrends`; passes :func:`validate_ohlcv`.

    Raises:
        DataError: If ``real`` is not a valid OHLCV frame or is shorter than ``length``.
        ValueError: On a bad argument.
    """
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    bars, first = _windows(real, num_samples, length, rng)
    level = bars["close"].mean(axis=1, keepdims=True)
    close = level * np.exp(noise * rng.standard_normal(bars["close"].shape))
    open_ = np.concatenate([level, close[:, :-1]], axis=1)
    up = bars["high"] / np.maximum(bars["open"], bars["close"])
    down = bars["low"] / np.minimum(bars["open"], bars["close"])
    high = np.maximum(open_, close) * up
    low = np.minimum(open_, close) * down
    prices = {"open": open_, "high": high, "low": low, "close": close}
    return _chain(prices, bars["volume"], first if start is None else start)


def _windows(
    real: pd.DataFrame, num_samples: int, length: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], pd.Timestamp]:
    """Validate ``real`` and gather ``num_samples`` random windows as ``[samples, length]``."""
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if length < 2:
        raise ValueError(f"length must be >= 2, got {length}")
    frame = validate_ohlcv(real, source="real data", min_rows=length)
    starts = rng.integers(0, len(frame) - length + 1, size=num_samples)
    rows = starts[:, None] + np.arange(length)
    bars = {name: frame[name].to_numpy(dtype=np.float64)[rows] for name in frame.columns}
    first = pd.Timestamp(frame.index[0]).normalize()
    return bars, first


def _chain(
    prices: dict[str, np.ndarray], volume: np.ndarray, start: str | pd.Timestamp
) -> pd.DataFrame:
    """Rescale samples so each first open is the previous last close; one continuous frame."""
    n_samples, length = prices["close"].shape
    ratio = prices["close"][:-1, -1] / prices["open"][1:, 0]
    scale = np.concatenate([[1.0], np.cumprod(ratio)])[:, None]
    flat = {name: (prices[name] * scale).ravel() for name in PRICE_COLUMNS}
    flat["high"], flat["low"] = enforce_ohlc(flat["open"], flat["high"], flat["low"], flat["close"])
    if not all(np.isfinite(v).all() and (v > 0).all() for v in flat.values()):
        raise ValueError(
            "chained prices left the float range; use fewer samples or a factor nearer 1"
        )
    flat["volume"] = volume.ravel()
    frame = to_frame(flat, calendar(start, n_samples * length, "1D"))
    frame["sample"] = np.repeat(np.arange(n_samples, dtype=np.int64), length)
    return frame
