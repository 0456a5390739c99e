"""Sanity limits of the service: what a bar may look like, how many sessions fit in memory.

Both are plain dataclasses given to `SessionManager` (and so to `create_app`); ``from_env``
reads them from the ``REGIME_TRADER_*`` variables below, which is how ``regime-trader serve``
is configured (docs/deployment.md, *Limits*):

=================================  ==========  ==============================================
variable                           default     meaning
=================================  ==========  ==============================================
``REGIME_TRADER_PRICE_MIN``        1e-8        smallest price accepted
``REGIME_TRADER_PRICE_MAX``        1e9         largest price accepted
``REGIME_TRADER_MAX_PRICE_RATIO``  10          a price over this many times (or under 1/this of)
                                               the previous close, or a high over this many
                                               times the low, is refused
``REGIME_TRADER_MAX_FUTURE``       2D          a bar stamped this far past the clock is refused
                                               ("off": no check)
``REGIME_TRADER_MAX_SESSIONS``     1000        stream sessions held in memory
``REGIME_TRADER_SESSION_EVICT``    lru         ``lru``: a new session evicts the least recently
                                               used idle one; ``none``: it gets 429
``REGIME_TRADER_SESSION_IDLE_S``   off         sessions idle this long are evicted first
=================================  ==========  ==============================================

An evicted session loses nothing: it is rebuilt from its bar log on its next bar.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from regime_trader.errors import ConfigError
from regime_trader.serve.refusals import FieldError

PRICES = ("open", "high", "low", "close")
_ENV = "REGIME_TRADER_"


@dataclass(frozen=True)
class BarLimits:
    """Bounds on a bar's prices and time, on top of the schema (finite, > 0, bracketed)."""

    min_price: float = 1e-8
    max_price: float = 1e9
    max_ratio: float = 10.0
    max_future: pd.Timedelta | None = pd.Timedelta("2D")

    def __post_init__(self) -> None:
        if not 0 < self.min_price < self.max_price < math.inf:
            raise ConfigError(
                f"price bounds must be 0 < min < max < inf, got {self.min_price}, {self.max_price}"
            )
        if not 1 < self.max_ratio < math.inf:
            raise ConfigError(f"max price ratio must be > 1 and finite, got {self.max_ratio}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BarLimits:
        env = os.environ if env is None else env
        future = env.get(_ENV + "MAX_FUTURE", "2D")
        return cls(
            min_price=_number(env, "PRICE_MIN", cls.min_price),
            max_price=_number(env, "PRICE_MAX", cls.max_price),
            max_ratio=_number(env, "MAX_PRICE_RATIO", cls.max_ratio),
            max_future=None if future.lower() == "off" else _duration("MAX_FUTURE", future),
        )

    def check(
        self, where: str, ts: pd.Timestamp, px: Mapping[str, float], prev: float | None
    ) -> None:
        """Raise `FieldError` naming ``where.FIELD`` when the bar breaks a limit.

        ``prev``: the close of the bar before (None for a session's first bar).
        """
        for k in PRICES:
            if not self.min_price <= px[k] <= self.max_price:
                raise FieldError(
                    f"{where}.{k}",
                    f"{px[k]!r} is outside [{self.min_price:g}, {self.max_price:g}] (price limits)",
                )
        if px["high"] > self.max_ratio * px["low"]:
            raise FieldError(
                f"{where}.high", f"high {px['high']!r} is over {self.max_ratio:g} times the low"
            )
        if prev is not None:
            self._check_ratio(where, px, prev)
        if self.max_future is not None and ts > pd.Timestamp.now(tz="UTC") + self.max_future:
            raise FieldError(
                f"{where}.timestamp", f"{ts} is more than {self.max_future} in the future"
            )

    def check_many(self, prefix: str, index: pd.DatetimeIndex, px: np.ndarray) -> None:
        """`check` of every row of ``px`` ``[N, 4]`` (open, high, low, close; each row against
        the close of the row before), vectorised: a 5,000-bar window costs a few array ops
        instead of 5,000 Python calls holding the GIL. The first failing row raises exactly
        `check`'s error, naming ``prefix.ROW.FIELD``."""
        lo, hi, r = self.min_price, self.max_price, self.max_ratio
        bad = ((px < lo) | (px > hi)).any(axis=1) | (px[:, 1] > r * px[:, 2])
        if len(px) > 1:
            ratio = px[1:] / px[:-1, 3:4]
            bad[1:] |= ((ratio < 1 / r) | (ratio > r)).any(axis=1)
        if self.max_future is not None:
            bad |= np.asarray(index > pd.Timestamp.now(tz="UTC") + self.max_future)
        for i in np.flatnonzero(bad):  # normally the first one raises
            prev = None if i == 0 else float(px[i - 1, 3])
            prices = {k: float(v) for k, v in zip(PRICES, px[i], strict=True)}
            self.check(f"{prefix}.{int(i)}", index[int(i)], prices, prev)

    def _check_ratio(self, where: str, px: Mapping[str, float], prev: float) -> None:
        r = self.max_ratio
        for k in PRICES:
            ratio = px[k] / prev
            if not 1 / r <= ratio <= r:
                raise FieldError(
                    f"{where}.{k}",
                    f"{px[k]!r} is {ratio:.3g} times the previous close {prev!r} (limit: {r:g}x "
                    "either way); send the right bar, or start a new session after a split",
                )


@dataclass(frozen=True)
class SessionLimits:
    """How many stream sessions live in memory and which one makes room for a new one."""

    max_sessions: int = 1000
    evict: Literal["lru", "none"] = "lru"
    idle_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_sessions < 1:
            raise ConfigError(f"max sessions must be >= 1, got {self.max_sessions}")
        if self.evict not in ("lru", "none"):
            raise ConfigError(f"session eviction must be 'lru' or 'none', got '{self.evict}'")
        if self.idle_seconds is not None and not self.idle_seconds >= 0:
            raise ConfigError(f"session idle seconds must be >= 0, got {self.idle_seconds}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SessionLimits:
        env = os.environ if env is None else env
        idle = env.get(_ENV + "SESSION_IDLE_S", "off")
        evict: Any = env.get(_ENV + "SESSION_EVICT", "lru").lower()
        return cls(
            max_sessions=int(_number(env, "MAX_SESSIONS", cls.max_sessions)),
            evict=evict,
            idle_seconds=None if idle.lower() == "off" else _number(env, "SESSION_IDLE_S", 0),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(_ENV + name)
    if text is None:
        return float(default)
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"${_ENV}{name}: '{text}' is not a number") from None


def _duration(name: str, text: str) -> pd.Timedelta:
    try:
        value = pd.Timedelta(text)
    except ValueError:
        value = pd.Timedelta(-1)
    if value <= pd.Timedelta(0):
        raise ConfigError(f"${_ENV}{name}: '{text}' is not a positive duration (e.g. 2D)")
    return value
