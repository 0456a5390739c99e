"""Causal multi-timeframe features: coarse bars joined back only after they have closed.

Rule (the contract in ARCHITECTURE.md, made precise):

* Base timestamps mark the bar OPEN. A base bar opening at ``s`` closes at ``s + d`` (``d``,
  the base bar duration, is the median spacing of the index; it is only reported, in
  ``close_time``, and never decides visibility).
* Every base bar falls into the coarse bin ``[b0, b1)`` that contains its open time. Fixed
  timeframes (``5min``, ``60min``, ``240min``, ...) cut time into multiples of the timeframe
  counted from the Unix epoch (00:00 UTC), so bins do not depend on where a series starts and
  agree with ``DataFrame.resample(tf)`` for any timeframe that divides a day. Calendar timeframes
  are UTC calendar periods: ``D`` a day, ``W`` a week Monday 00:00 to the next Monday (weeks
  ending Sunday, as pandas' ``W`` = ``W-SUN``; ``W-SAT`` runs Sunday to Saturday), ``ME``/``MS``
  a month, ``QE`` a quarter, ``YE`` a year. Bins are always closed on the left and
  labelled by their START ``b0`` (pandas labels ``W`` and ``ME`` bins by their end by default).
* Empty bins (weekends, missing minutes, session breaks) are dropped: no bar is invented, so a
  coarse return across a weekend runs from the last bar before it to the first bar after it.
* The coarse bar ``[b0, b1)`` is complete once a base bar opening at ``>= b1`` exists. Its
  features (computed by ``compute_features`` on the coarse series, so they use coarse bars up to
  and including it) are attached to that first base bar and, by forward fill, to the base bars
  after it until the next coarse bar becomes visible. Hence at base row ``t`` the visible coarse
  bar is the last one with ``b1 <= timestamp[t]``: a coarse bar's values are never seen inside
  the bar, and everything seen at row ``t`` is computed from base rows ``< t``.

The plan's ``resample(...).reindex(index, method='ffill')`` sketch shows, at 10:00, the 10:00
hourly bar's final values (its close at 10:59): up to one coarse bar of look-ahead. Here row
10:00 sees the 09:00 bar until the 11:00 row sees the 10:00 bar.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from regime_trader.config import FeatureConfig
from regime_trader.errors import DataError
from regime_trader.features.pipeline import compute_features, feature_lookback, feature_names
from regime_trader.utils.timeframes import _period_freq, parse_timeframes  # noqa: F401 (re-exported)

INTRADAY_TIMEFRAMES = ("5min", "15min", "30min", "60min", "240min")
DAILY_TIMEFRAMES = ("W", "ME")

_OHLCV = ["open", "high", "low", "close", "volume"]


def _timestamps_ns(index: pd.Index) -> np.ndarray:
    """int64 nanoseconds since the epoch (UTC) of a DatetimeIndex; checks it increases."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"timeframes need a DatetimeIndex, got {type(index).__name__}")
    idx = index.tz_convert("UTC") if index.tz is not None else index
    ns = idx.as_unit("ns").asi8
    if ns.size > 1 and not (np.diff(ns) > 0).all():
        bad = int(np.argmin(np.diff(ns) > 0)) + 1
        raise DataError(f"timestamps must be strictly increasing; row {bad} ({index[bad]}) is not")
    return ns


def base_duration(index: pd.DatetimeIndex) -> pd.Timedelta:
    """Base bar duration: the median spacing of `index` (1 minute for minute data with gaps)."""
    steps = np.diff(_timestamps_ns(index)).astype(np.float64)  # numpy's int64 median is slow
    return pd.Timedelta(int(np.median(steps)) if steps.size else 0, unit="ns")


def bin_edges(index: pd.DatetimeIndex, timeframe: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (int64 ns, UTC) of the coarse bin holding each base bar's open time.

    Args:
        index: Strictly increasing base timestamps (bar opens).
        timeframe: One token accepted by ``parse_timeframes``.

    Returns:
        ``(b0, b1)``, two int64 [T] arrays: base bar t lies in ``[b0[t], b1[t])``.
    """
    (tf,) = parse_timeframes([timeframe])
    ns = _timestamps_ns(index)
    offset = to_offset(tf)
    if isinstance(offset, pd.offsets.Tick):
        step = int(offset.nanos)
        start = (ns // step) * step  # floor division: epoch-aligned, also before 1970
        return start, start + step
    periods = pd.DatetimeIndex(ns.view("datetime64[ns]")).to_period(_period_freq(offset))
    return periods.start_time.as_unit("ns").asi8, (periods + 1).start_time.as_unit("ns").asi8


def _aggregate(
    ns: np.ndarray, cols: dict[str, np.ndarray], start: np.ndarray, end: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Coarse OHLCV arrays, first and last base row, and bin end of each non-empty bin."""
    if ns.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return {c: np.empty(0) for c in _OHLCV}, empty, empty, empty
    # Bins are contiguous runs on a sorted index.
    first = np.flatnonzero(np.r_[True, start[1:] != start[:-1]])
    last = np.r_[first[1:], start.size] - 1
    vol = cols["volume"]
    has_vol = ~np.isnan(vol)
    vsum = np.add.reduceat(np.where(has_vol, vol, 0.0), first)
    vsum[np.add.reduceat(has_vol.astype(np.int64), first) == 0] = np.nan
    data = {
        "open": cols["open"][first],
        "high": np.fmax.reduceat(cols["high"], first),
        "low": np.fmin.reduceat(cols["low"], first),
        "close": cols["close"][last],
        "volume": vsum,
    }
    return data, first, last, end[first]


def resample_ohlcv(ohlcv: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Aggregate base bars into coarse bars (first/max/min/last/sum), dropping empty bins.

    Args:
        ohlcv: OHLCV frame with a strictly increasing DatetimeIndex of bar opens.
        timeframe: One token accepted by ``parse_timeframes`` (``"60min"``, ``"W"``, ``"ME"``).

    Returns:
        Frame indexed by bin start (UTC, named ``timestamp``), one row per non-empty bin, with
        ``open high low close volume`` (volume NaN where the bin has no volume), ``n_bars``
        (base bars in the bin), ``bin_end`` (the bin's end ``b1``: the coarse bar is visible
        from the first base bar opening at or after it) and ``close_time`` (last base open in
        the bin + the base duration; earlier than ``bin_end`` when the bin ends in a gap).

    Raises:
        ConfigError: If `timeframe` is invalid.
        DataError: If the index is not a strictly increasing DatetimeIndex.
    """
    ns = _timestamps_ns(ohlcv.index)
    start, end = bin_edges(pd.DatetimeIndex(ohlcv.index), timeframe)
    data, first, last, bin_end = _aggregate(ns, _columns(ohlcv), start, end)
    dur = base_duration(pd.DatetimeIndex(ohlcv.index)).value
    frame = pd.DataFrame(data, index=_utc(start[first]))
    frame["n_bars"] = (last - first + 1).astype(np.int64)
    frame["bin_end"] = _utc(bin_end)
    frame["close_time"] = _utc(ns[last] + dur)
    return frame


def _columns(ohlcv: pd.DataFrame) -> dict[str, np.ndarray]:
    """float64 OHLCV columns, volume NaN when absent; DataError for a missing price."""
    missing = [c for c in _OHLCV[:4] if c not in ohlcv.columns]
    if missing:
        raise DataError(f"OHLCV frame lacks column(s) {missing}; expected {_OHLCV}")
    nan = np.full(len(ohlcv), np.nan)
    return {c: ohlcv[c].to_numpy(dtype=np.float64) if c in ohlcv else nan for c in _OHLCV}


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    """DatetimeIndex (UTC, ns, named timestamp) from int64 nanoseconds."""
    return pd.DatetimeIndex(ns.view("datetime64[ns]"), name="timestamp").tz_localize("UTC")


def visible_rows(base_ns: np.ndarray, bin_end_ns: np.ndarray) -> np.ndarray:
    """For each base bar, the position of the last coarse bar with ``bin_end <= open time``.

    Returns int64 [T] positions into the K coarse bars (-1 where none has closed yet), given
    int64 ns base opens [T] and coarse bin ends [K], both increasing.
    """
    return np.searchsorted(bin_end_ns, base_ns, side="right").astype(np.int64) - 1


def coarse_config(cfg: FeatureConfig) -> FeatureConfig:
    """The feature config of every coarse series: ``cfg`` without timeframes and without the
    long-horizon columns (a 252-bar momentum of weekly bars would need five years of warm-up;
    the base columns already hold the long horizon)."""
    return cfg.model_copy(update={"timeframes": (), "long_horizon": False})


def timeframe_warmup(
    index: pd.DatetimeIndex, timeframes: str | Sequence[str], cfg: FeatureConfig = FeatureConfig()
) -> int:
    """Leading base rows where some ``name@tf`` column is still in its coarse warm-up.

    A coarse column is defined once coarse bar number ``feature_lookback(cfg)`` (0-based) has
    closed and become visible (``visible_rows``), so the answer depends on the timestamps only,
    and on those up to the row it returns (causal: bars after it cannot change it).

    Raises:
        DataError: If some timeframe never leaves its warm-up within the series.
    """
    lb = feature_lookback(coarse_config(cfg))
    ns = _timestamps_ns(index)
    rows = 0
    for tf in parse_timeframes(timeframes):
        start, end = bin_edges(pd.DatetimeIndex(index), tf)
        first = np.flatnonzero(np.r_[True, start[1:] != start[:-1]]) if ns.size else start
        ready = np.flatnonzero(visible_rows(ns, end[first]) >= lb)
        if ready.size == 0:
            raise DataError(
                f"features.timeframes: '{tf}' needs {lb + 1} closed '{tf}' bars and one base "
                f"bar after them for its warm-up, the series has {first.size}; use a longer "
                "series, a finer timeframe or shorter feature periods"
            )
        rows = max(rows, int(ready[0]))
    return rows


_SUGGESTED = (*INTRADAY_TIMEFRAMES, "D", *DAILY_TIMEFRAMES)
_SUGGESTED_SPAN = {
    "D": pd.Timedelta(days=1),
    "W": pd.Timedelta(days=7),
    "ME": pd.Timedelta(days=28),
}


def coarser_timeframes(base: pd.Timedelta, n: int = 3) -> list[str]:
    """Up to ``n`` usual timeframes coarser than bars of length ``base`` (for error hints).

    Args:
        base: Base bar duration (``base_duration``).
        n: How many to return.

    Returns:
        E.g. ``["5min", "15min", "30min"]`` for minute bars, ``["240min", "D", "W"]`` for
        hourly bars, ``["W", "ME"]`` for daily bars.
    """

    def span(tf: str) -> pd.Timedelta:
        return _SUGGESTED_SPAN.get(tf) or pd.Timedelta(to_offset(tf).nanos, unit="ns")

    return [tf for tf in _SUGGESTED if span(tf) > base][:n]


def _duration(td: pd.Timedelta) -> str:
    """A bar length for messages: '1 minute', '1 hour', '1 day', else pandas' text."""
    names = {pd.Timedelta(minutes=1): "1-minute", pd.Timedelta(hours=1): "1-hour"}
    return names.get(td) or ("1-day" if td == pd.Timedelta(days=1) else str(td))


def multi_timeframe_names(
    timeframes: str | Sequence[str], cfg: FeatureConfig = FeatureConfig()
) -> list[str]:
    """Columns of ``multi_timeframe_features``: base names, then ``name@tf`` per timeframe."""
    coarse = feature_names(coarse_config(cfg))
    return feature_names(cfg) + [f"{n}@{tf}" for tf in parse_timeframes(timeframes) for n in coarse]


def multi_timeframe_features(
    ohlcv: pd.DataFrame,
    timeframes: str | Sequence[str],
    cfg: FeatureConfig = FeatureConfig(),
) -> pd.DataFrame:
    """Base features plus the features of each coarser timeframe, joined causally.

    For each timeframe the base bars are resampled (``resample_ohlcv``), ``compute_features``
    runs on the coarse series, and each base row receives the features of the last coarse bar
    that closed at or before its open (module docstring). Vectorised: one ``searchsorted`` and
    one gather per timeframe.

    Args:
        ohlcv: OHLCV frame (strictly increasing DatetimeIndex of bar opens).
        timeframes: ``"5min,60min"`` or a list of tokens (see ``parse_timeframes``).
        cfg: Feature periods of the base series; every coarse series uses ``coarse_config(cfg)``.

    Returns:
        float64 frame on the input's index with columns ``multi_timeframe_names``: the base
        features (``compute_features``), then ``rsi_14@60min`` and so on. Coarse columns are NaN
        until a coarse bar has closed and the coarse warm-up has passed.

    Raises:
        ConfigError: For an invalid timeframe.
        DataError: For a bad index, a missing price column, or a fixed timeframe that is not
            coarser than the base bars.
    """
    tfs = parse_timeframes(timeframes)
    ns = _timestamps_ns(ohlcv.index)
    dur = base_duration(pd.DatetimeIndex(ohlcv.index))
    for tf in tfs:
        offset = to_offset(tf)
        if isinstance(offset, pd.offsets.Tick) and ns.size > 1 and offset.nanos <= dur.value:
            raise DataError(
                f"timeframe '{tf}' is not coarser than the base bars ({_duration(dur)}); "
                f"use coarser timeframes, e.g. {','.join(coarser_timeframes(dur))}"
            )
    cols = _columns(ohlcv)
    base = compute_features(ohlcv, cfg).to_numpy().T
    n_base, ccfg = base.shape[0], coarse_config(cfg)
    n_feat = len(feature_names(ccfg))
    values = np.empty((n_base + len(tfs) * n_feat, ns.size))
    values[:n_base] = base
    del base  # keep the peak near the size of the output
    for k, tf in enumerate(tfs):
        start, end = bin_edges(pd.DatetimeIndex(ohlcv.index), tf)
        data, first, _, bin_end = _aggregate(ns, cols, start, end)
        coarse = pd.DataFrame(data, index=_utc(start[first]))
        feats = compute_features(coarse, ccfg).to_numpy()
        # Column 0 of `padded` is all-NaN: base bars before the first coarse bar closes.
        padded = np.hstack([np.full((n_feat, 1), np.nan), feats.T])
        rows = visible_rows(ns, bin_end) + 1
        for j in range(n_feat):  # one contiguous gather per feature (fast; loops features only)
            np.take(padded[j], rows, out=values[n_base + k * n_feat + j])
    return pd.DataFrame(
        values.T, index=ohlcv.index, columns=multi_timeframe_names(tfs, cfg), copy=False
    )
