"""OHLCV bar helpers shared by the scenario generators and the real-data augmentations.

Everything here is vectorised over bars and takes its randomness from an injected
``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regime_trader.data.validation import OHLCV_COLUMNS


def calendar(start: str | pd.Timestamp, n_bars: int, freq: str = "1D") -> pd.DatetimeIndex:
    """A plain, gap-free UTC calendar of ``n_bars`` timestamps.

    Args:
        start: First timestamp; naive values are taken as UTC, aware ones converted to UTC.
        n_bars: Number of timestamps.
        freq: pandas offset alias between bars (``"1D"``, ``"1h"``, ...).

    Returns:
        Strictly increasing ``DatetimeIndex`` named ``timestamp`` (UTC, nanosecond unit, no
        ``freq`` attribute, like the output of ``validate_ohlcv``).
    """
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tzinfo is None else first.tz_convert("UTC")
    idx = pd.date_range(first, periods=n_bars, freq=freq).as_unit("ns")
    # Rebuilt from the raw nanoseconds so that it carries no ``freq``, like validate_ohlcv's.
    naive = pd.DatetimeIndex(idx.asi8.view("M8[ns]"), name="timestamp")
    return naive.tz_localize("UTC")


def enforce_ohlc(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Widen high and low so that every bar brackets its open and close.

    Args:
        open_: Open prices [T].
        high: High prices [T].
        low: Low prices [T].
        close: Close prices [T].

    Returns:
        ``(high, low)`` with ``high >= max(open, close)`` and ``low <= min(open, close)``.
    """
    return np.maximum(high, np.maximum(open_, close)), np.minimum(low, np.minimum(open_, close))


def bars_from_closes(
    log_close: np.ndarray,
    scale: np.ndarray,
    *,
    rng: np.random.Generator,
    prev_close: float,
    gap: float,
    wick: float,
    volume: float,
    volume_sigma: float,
) -> dict[str, np.ndarray]:
    """Build consistent OHLCV bars around a path of log closes.

    ``open[t] = close[t-1] * exp(gap * scale[t] * z)`` (``close[-1] = prev_close``);
    ``high = max(open, close) * exp(wick * scale * |z|)``,
    ``low = min(open, close) * exp(-wick * scale * |z|)``;
    ``volume = volume * exp(volume_sigma * z)`` (lognormal, median ``volume``). The ``z`` are
    independent standard normal draws from ``rng``.

    Args:
        log_close: Natural log of the closes [T].
        scale: Per-bar volatility scale [T] (std of a 1-bar log return) that sizes gaps and wicks.
        rng: Source of every random draw.
        prev_close: Close before the first bar (the first open gaps from it).
        gap: Std of the open gap, as a fraction of ``scale``.
        wick: Scale of the high/low wicks, as a fraction of ``scale``.
        volume: Median volume per bar (> 0).
        volume_sigma: Std of log volume.

    Returns:
        ``{"open", "high", "low", "close", "volume"}`` float64 arrays of length T.
    """
    n = len(log_close)
    z = rng.standard_normal((4, n))
    close = np.exp(log_close)
    prev = np.concatenate([[prev_close], close[:-1]])
    open_ = prev * np.exp(gap * scale * z[0])
    high = np.maximum(open_, close) * np.exp(wick * scale * np.abs(z[1]))
    low = np.minimum(open_, close) * np.exp(-wick * scale * np.abs(z[2]))
    high, low = enforce_ohlc(open_, high, low, close)
    vol = volume * np.exp(volume_sigma * z[3])
    return {"open": open_, "high": high, "low": low, "close": close, "volume": vol}


def to_frame(columns: dict[str, np.ndarray], index: pd.DatetimeIndex) -> pd.DataFrame:
    """Assemble an OHLCV frame (float64 ``open high low close volume``) on ``index``.

    Args:
        columns: Arrays for at least the OHLCV columns; other keys are ignored.
        index: Timestamps, one per bar.

    Returns:
        A new frame with exactly the OHLCV columns, in contract order.
    """
    data = {name: np.asarray(columns[name], dtype=np.float64) for name in OHLCV_COLUMNS}
    return pd.DataFrame(data, index=index)
