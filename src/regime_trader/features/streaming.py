"""Streaming features for live use: one new bar in, its feature row out, in O(window) work.

``FeaturePipeline.update(bar)`` returns the numbers ``compute_features`` gives for that bar when
run on the whole series fed so far, without recomputing the series.

TA-Lib's ADX and RSI use Wilder smoothing, whose value depends on the whole history, and its
SMA-based STOCH and BBANDS keep running sums whose rounding does too; recomputing them on a
bounded window would drift from the batch values. The pipeline therefore carries their state:
it drives TA-Lib's own streaming handles (``talib.stream``, TA-Lib >= 0.8), which replay the C
recurrences and are bit-identical to the batch functions. During the warm-up, while a handle
cannot open yet, the value comes from the batch function on the few bars seen so far (a list
that is dropped as soon as every handle is open). The windowed features (trend persistence,
log returns, realised volatility) read a ring buffer of the last ``history`` closes; the
one-bar range needs only the bar itself. Memory is O(history) after the warm-up.

With ``cfg.timeframes`` each timeframe aggregates the base bars of its open coarse bin and,
when a base bar opens at or after the bin's end, feeds the finished coarse bar to a pipeline
of its own; the base rows show that bar's features from then on (the batch rule of
``multi_timeframe_features``: a coarse bar is visible only after it has closed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import talib
from pandas.tseries.frequencies import to_offset

from regime_trader.config import FeatureConfig
from regime_trader.errors import ConfigError, DataError
from regime_trader.features.indicators import SMA_MATYPE
from regime_trader.features.pipeline import feature_names
from regime_trader.features.timeframes import bin_edges, coarse_config, multi_timeframe_names

_NAN = float("nan")


class _TalibFeed:
    """One TA-Lib indicator fed bar by bar: batch on the warm-up bars, then a stream handle."""

    def __init__(self, name: str, inputs: tuple[str, ...], **params: Any) -> None:
        self.name, self.inputs, self.params = name, inputs, params
        self.handle: Any = None

    def update(self, bar: dict[str, float], warm: dict[str, list[float]] | None) -> Any:
        """Feed one bar; `warm` holds every bar so far (bar included) until the handle opens."""
        if self.handle is not None:
            return self.handle.update(*(bar[k] for k in self.inputs))
        if warm is None:  # pragma: no cover - warm bars are kept until every handle is open
            raise RuntimeError(f"{self.name}: stream handle closed without warm-up bars")
        arrays = [np.asarray(warm[k], dtype=np.float64) for k in self.inputs]
        try:
            self.handle = getattr(talib.stream, self.name)(*arrays, **self.params)
        except talib.InsufficientHistory:
            out = getattr(talib, self.name)(*arrays, **self.params)  # still warming up
            return tuple(float(o[-1]) for o in out) if isinstance(out, tuple) else float(out[-1])
        return self.handle.value


def _check_talib_streams() -> None:
    """Raise a clear error when the installed TA-Lib predates the streaming handles."""
    if not hasattr(talib, "InsufficientHistory") or not isinstance(
        getattr(talib.stream, "RSI", None), type
    ):
        raise ConfigError(
            "FeaturePipeline needs TA-Lib's streaming handles (python package ta-lib >= 0.8, "
            f"found {talib.__version__}); upgrade with `pip install -U ta-lib`"
        )


class FeaturePipeline:
    """Incremental ``compute_features``: feed bars one at a time, get each bar's feature row.

    Memory is bounded: a ring buffer of the last `history` closes plus O(1) TA-Lib state
    (after a warm-up of a few dozen bars, during which the bars seen so far are kept).

    Args:
        cfg: Feature periods (as for ``compute_features``).
        history: Closes kept in the ring buffer; None = the fewest the windowed features need
            (``max(persistence_window, vol_window, max(return_lags)) + 1``; with
            ``long_horizon`` also the longest SMA period and momentum lag + 1).

    Raises:
        ConfigError: If `history` is too small for the windows of `cfg`, or TA-Lib lacks
            streaming handles.
    """

    def __init__(self, cfg: FeatureConfig = FeatureConfig(), history: int | None = None) -> None:
        _check_talib_streams()
        need = max(cfg.persistence_window, cfg.vol_window, max(cfg.return_lags, default=0)) + 1
        lh = cfg.long_horizon
        if lh:  # the long-horizon SMAs and momentum read the same ring buffer
            need = max(need, max(cfg.sma_periods, default=0), max(cfg.momentum_lags, default=0) + 1)
        if history is not None and history < need:
            raise ConfigError(f"FeaturePipeline history must be >= {need} for {cfg}, got {history}")
        self.cfg = cfg
        self.history = int(history or need)
        base_cfg = coarse_config(cfg)
        self._coarse = [_CoarseFeed(tf, base_cfg) for tf in cfg.timeframes]
        self.names = (
            multi_timeframe_names(cfg.timeframes, cfg) if self._coarse else feature_names(cfg)
        )
        self._index = pd.Index(self.names)
        n_ret = len(cfg.return_lags)  # columns that hold ratios until the final log
        n_lh = len(cfg.sma_periods) + len(cfg.momentum_lags) if lh else 0
        self._logs = np.r_[8 : 8 + n_ret, 9 + n_ret, 10 + n_ret : 10 + n_ret + n_lh]
        # vol_rel: the last vol_level_window realised vols, stored twice like the closes
        self._level = cfg.vol_level_window if lh else 0
        self._vols = np.full(2 * max(self._level, 1), np.nan)
        self._n_vols = 0
        # Ring buffer stored twice ([H:2H] mirrors [0:H]) so the last k closes are one slice.
        self._closes = np.full(2 * self.history, np.nan)
        self._pos = 0
        self.n_seen = 0
        self.last_timestamp: pd.Timestamp | None = None
        hlc = ("high", "low", "close")
        self._feeds = {
            "adx": _TalibFeed("ADX", hlc, timeperiod=cfg.adx_period),
            "slope": _TalibFeed("LINEARREG_SLOPE", ("close",), timeperiod=cfg.slope_period),
            "rsi": _TalibFeed("RSI", ("close",), timeperiod=cfg.rsi_period),
            "stoch": _TalibFeed(
                "STOCH",
                hlc,
                fastk_period=cfg.stoch_k,
                slowk_period=cfg.stoch_slow,
                slowk_matype=SMA_MATYPE,
                slowd_period=cfg.stoch_d,
                slowd_matype=SMA_MATYPE,
            ),
            "bb": _TalibFeed(
                "BBANDS",
                ("close",),
                timeperiod=cfg.bb_period,
                nbdevup=cfg.bb_std,
                nbdevdn=cfg.bb_std,
                matype=SMA_MATYPE,
            ),
        }
        self._warm: dict[str, list[float]] | None = {k: [] for k in hlc}

    @property
    def buffered(self) -> int:
        """Closes held in the ring buffer (grows to ``history``, then stays there)."""
        return min(self.n_seen, self.history)

    @property
    def warming_up(self) -> bool:
        """True while some TA-Lib handle is not open yet (the bars so far are still kept)."""
        return self._warm is not None

    def _last(self, k: int) -> np.ndarray:
        """The last `k` closes, oldest first (k <= history)."""
        end = self._pos + self.history + 1
        return self._closes[end - k : end]

    def update(self, bar: Mapping[str, Any] | pd.Series) -> pd.Series:
        """Add one closed bar and return its features.

        Args:
            bar: Mapping or Series with ``high low close`` (other keys ignored) and a
                ``timestamp`` key (or, for a Series, its name; optional).

        Returns:
            Series named by the bar's timestamp with index ``self.names`` (the columns of
            ``multi_timeframe_features`` with ``cfg.timeframes``, else ``feature_names(cfg)``);
            NaN where the batch frame is NaN (warm-up).

        Raises:
            DataError: If a price is missing, not finite or not positive, ``high < low``, the
                timestamp does not increase, or it is missing while ``cfg.timeframes`` is set.
        """
        ts = bar.get("timestamp", getattr(bar, "name", None))
        ts = None if ts is None else pd.Timestamp(ts)
        return pd.Series(self.update_values(bar, ts), index=self._index, name=ts, copy=False)

    def update_values(
        self, bar: Mapping[str, Any] | pd.Series, timestamp: pd.Timestamp | None = None
    ) -> np.ndarray:
        """Like ``update`` but returns a bare float64 array [F] (faster, no pandas)."""
        last = self.last_timestamp
        if self._coarse and timestamp is None:
            raise DataError("bar has no timestamp; features.timeframes needs one on every bar")
        if timestamp is not None and last is not None and timestamp <= last:
            raise DataError(f"bar at {timestamp} does not follow the last bar at {last}")
        try:
            px = {k: float(bar[k]) for k in ("high", "low", "close")}
        except KeyError as err:
            raise DataError(f"bar lacks {err}; expected high, low, close") from None
        if not all(math.isfinite(v) and v > 0 for v in px.values()) or px["high"] < px["low"]:
            raise DataError(f"bar at {timestamp} has invalid prices {px}")
        self.last_timestamp = timestamp if timestamp is not None else self.last_timestamp
        self.n_seen += 1
        self._pos = (self._pos + 1) % self.history
        self._closes[self._pos] = self._closes[self._pos + self.history] = px["close"]
        if self._warm is not None:
            for k, v in px.items():
                self._warm[k].append(v)
        out = self._row(px)
        if self._coarse and timestamp is not None:
            ns = pd.Timestamp(timestamp).value  # UTC nanoseconds (naive: taken as UTC)
            out = np.concatenate([out, *(feed.update(ns, px) for feed in self._coarse)])
        if self._warm is not None and all(f.handle is not None for f in self._feeds.values()):
            self._warm = None  # every handle carries its own state from here on
        return out

    def _row(self, px: dict[str, float]) -> np.ndarray:
        """Feature values of the bar just buffered, in ``feature_names`` order."""
        cfg, n, c = self.cfg, self.n_seen, px["close"]
        f = {k: feed.update(px, self._warm) for k, feed in self._feeds.items()}
        upper, middle, lower = f["bb"]
        span = upper - lower
        width = pos = _NAN
        if span == span:  # same arithmetic as indicators.bbands
            width = span / middle
            pos = (c - lower) / span if span > 1e-12 * abs(middle) else 0.5
        w = cfg.persistence_window
        persistence = vol = _NAN
        if n > w:
            signs = np.sign(np.diff(self._last(w + 1)))
            persistence = float(np.count_nonzero(signs == signs[-1])) / float(w)
        if n > cfg.vol_window:
            closes = self._last(cfg.vol_window + 1)
            vol = float(np.std(np.log(closes[1:] / closes[:-1]), ddof=1))
        end = self._pos + self.history
        ratios = [c / self._closes[end - lag] if n > lag else _NAN for lag in cfg.return_lags]
        stoch_k, stoch_d = f["stoch"]
        values = [
            f["adx"] / 100.0,
            f["slope"] / c,
            persistence,
            f["rsi"] / 100.0,
            stoch_k / 100.0,
            stoch_d / 100.0,
            width,
            pos,
            *ratios,
            vol,
            px["high"] / px["low"],
        ]
        if cfg.long_horizon:
            values += self._long_horizon(c, vol)
        out = np.array(values, dtype=np.float64)
        out[self._logs] = np.log(out[self._logs])  # log returns and range, numpy's log as batch
        return out

    def _long_horizon(self, c: float, vol: float) -> list[float]:
        """Ratios ``close / SMA`` and ``close / close[t - lag]`` (logged by the caller) and
        ``vol_rel``, as ``features.long_horizon`` computes them in batch."""
        cfg, n, end = self.cfg, self.n_seen, self._pos + self.history
        out = [c / float(np.mean(self._last(k))) if n >= k else _NAN for k in cfg.sma_periods]
        out += [c / self._closes[end - lag] if n > lag else _NAN for lag in cfg.momentum_lags]
        if self._level:
            if vol == vol:  # defined once vol_window returns exist
                i = self._n_vols % self._level
                self._vols[i] = self._vols[i + self._level] = vol
                self._n_vols += 1
            rel = _NAN
            if self._n_vols >= self._level:
                stop = self._n_vols % self._level + self._level
                level = float(np.mean(self._vols[stop - self._level : stop]))
                rel = 1.0 if vol == 0 and level == 0 else vol / level
            out.append(rel)
        return out


class _CoarseFeed:
    """One timeframe of a ``FeaturePipeline``: the open coarse bin and the last closed bar's row.

    Base bars are aggregated as ``resample_ohlcv`` does (high max, low min, close last); when
    a base bar opens at or after the open bin's end, the finished bar goes to a pipeline of
    its own and its row is shown from that base bar on.
    """

    def __init__(self, timeframe: str, cfg: FeatureConfig) -> None:
        offset = to_offset(timeframe)
        self.timeframe = timeframe
        self.step = int(offset.nanos) if isinstance(offset, pd.offsets.Tick) else None
        self.pipe = FeaturePipeline(cfg)
        self.row = np.full(len(self.pipe.names), _NAN)  # no coarse bar has closed yet
        self.end: int | None = None  # end (ns) of the open bin
        self.bar: dict[str, float] = {}

    def _bin_end(self, ns: int) -> int:
        if self.step is not None:  # epoch-aligned fixed bins, as bin_edges
            return (ns // self.step + 1) * self.step
        stamp = pd.DatetimeIndex(np.array([ns], dtype="datetime64[ns]"))
        return int(bin_edges(stamp, self.timeframe)[1][0])

    def update(self, ns: int, px: dict[str, float]) -> np.ndarray:
        """Add a base bar opening at `ns`; the features of the last closed coarse bar."""
        if self.end is not None and ns >= self.end:
            self.row = self.pipe.update_values(self.bar)
            self.end = None
        if self.end is None:
            self.end, self.bar = self._bin_end(ns), dict(px)
        else:
            bar = self.bar
            bar["high"], bar["low"] = max(bar["high"], px["high"]), min(bar["low"], px["low"])
            bar["close"] = px["close"]
        return self.row
