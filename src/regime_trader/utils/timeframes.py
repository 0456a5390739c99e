"""Timeframe tokens (``5min``, ``W``, ``ME``): parsing and validation, below config.

`config` validates ``features.timeframes`` with `parse_timeframes`; `features.timeframes`
resamples with the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

from regime_trader.errors import ConfigError

# Calendar offsets accepted (one period each), with their pandas Period frequency.
_CALENDAR = {pd.offsets.Day: "D", pd.offsets.Week: "W", pd.offsets.MonthEnd: "M"}
_CALENDAR |= {pd.offsets.MonthBegin: "M", pd.offsets.QuarterEnd: "Q", pd.offsets.YearEnd: "Y"}


def _period_freq(offset: BaseOffset) -> str | None:
    """Pandas Period frequency of a calendar offset, or None if it is not one we accept."""
    base = _CALENDAR.get(type(offset))
    if base is None or offset.n != 1:
        return None
    if base == "W":
        return offset.freqstr if getattr(offset, "weekday", None) is not None else None
    if base in ("Q", "Y"):  # keep the anchor month: "QE-DEC" -> "Q-DEC", "YE-JUN" -> "Y-JUN"
        return base + re.sub(r"^[A-Z]+", "", offset.freqstr)
    return base


def parse_timeframes(spec: str | Sequence[str] | None) -> list[str]:
    """Split and validate a timeframe list such as ``"5min,15min,60min"`` or ``"W,ME"``.

    Accepted tokens: positive fixed durations (``5min``, ``4h``, ``90s``; pandas offset
    aliases) and single calendar periods (``D``, ``W``, ``W-SAT``, ``ME``, ``MS``, ``QE``,
    ``YE``). Whitespace around tokens is ignored.

    Args:
        spec: Comma-separated string, a sequence of tokens, or None/"" for none.

    Returns:
        The stripped tokens, in order (used verbatim in column names ``name@tf``).

    Raises:
        ConfigError: Naming the first token that is empty, unknown to pandas, zero or
            negative, a multiple of a calendar period (``2W``), or a duplicate.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return []
    tokens = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    seen: dict[object, str] = {}
    hint = "use e.g. 5min,15min,30min,60min,240min (intraday) or W,ME (daily)"
    for raw in tokens:
        tok = str(raw).strip()
        if not tok:
            raise ConfigError(f"timeframes: empty token in {spec!r}; {hint}")
        try:
            offset = to_offset(tok)
        except (ValueError, TypeError) as err:
            raise ConfigError(
                f"timeframes: '{tok}' is not a pandas offset ({err}); {hint}"
            ) from None
        if isinstance(offset, pd.offsets.Tick):
            if offset.n <= 0:
                raise ConfigError(f"timeframes: '{tok}' must be a positive duration; {hint}")
            key: object = ("tick", int(offset.nanos))
        else:
            pfreq = _period_freq(offset)
            if pfreq is None:
                raise ConfigError(
                    f"timeframes: '{tok}' is not supported: use a fixed duration (5min, 4h) or "
                    "one calendar period (D, W, W-SAT, ME, QE, YE)"
                )
            key = ("period", pfreq)
        if key in seen:
            raise ConfigError(f"timeframes: '{tok}' repeats '{seen[key]}'")
        seen[key] = tok
        out.append(tok)
    return out
