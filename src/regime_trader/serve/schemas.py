"""Request bodies of the decision service (pydantic v2; a bad field gives 422 naming it).

Numbers are strict (``"84.14"``, a string, is refused; an integer is a number), prices finite
and > 0, timestamps ISO 8601 strings between 1800 and 2200 (pandas' nanosecond range, with
room). `serve.limits` adds the configurable bounds (price range, jumps, future bars).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from regime_trader.utils import dates

MAX_BARS = int(os.environ.get("REGIME_TRADER_MAX_WINDOW_BARS", "1000"))
"""Bars in one window request (``REGIME_TRADER_MAX_WINDOW_BARS``, read at start): a decision
needs the feature warm-up, the window and the regime labels' warm-up (about 440 bars with
the defaults), and a bigger window holds the interpreter long enough to raise the stream
clients' p99 (docs/benchmarks.md); use a stream session for long histories."""
SESSION_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
FIRST_TIME = datetime(1800, 1, 1, tzinfo=timezone.utc)
LAST_TIME = datetime(2200, 1, 1, tzinfo=timezone.utc)
SIDES = (-1.0, 0.0, 1.0)


def _price(desc: str) -> Any:  # a pydantic FieldInfo
    return Field(strict=True, gt=0, allow_inf_nan=False, description=desc)


class Bar(BaseModel):
    """One closed OHLCV bar; naive timestamps are read as UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: datetime = Field(description="Bar time (ISO 8601 string, 1800 to 2200).")
    open: float = _price("Open price (> 0).")
    high: float = _price("High price (>= open, close).")
    low: float = _price("Low price (<= open, close).")
    close: float = _price("Close price (> 0).")
    volume: float | None = Field(
        None, strict=True, ge=0, allow_inf_nan=False, description="Volume (unused)."
    )

    @field_validator("timestamp", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 string, e.g. 2024-05-02T00:00:00Z")
        return value

    @field_validator("timestamp")
    @classmethod
    def _in_range(cls, value: datetime) -> datetime:
        utc = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        if not FIRST_TIME <= utc < LAST_TIME:
            raise ValueError(f"{value.isoformat()} is outside 1800-01-01 .. 2200-01-01")
        return value

    @model_validator(mode="after")
    def _brackets(self) -> Bar:
        if self.high < max(self.open, self.close) or self.low > min(self.open, self.close):
            raise ValueError("high must be >= open and close, and low <= open and close")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp.isoformat(), **self.model_dump(exclude={"timestamp"})}

    def utc(self) -> pd.Timestamp:
        """The timestamp in UTC (a naive one is read as UTC)."""
        return dates.utc(pd.Timestamp(self.timestamp))

    def prices(self) -> dict[str, float]:
        return {"open": self.open, "high": self.high, "low": self.low, "close": self.close}


class DecideRequest(BaseModel):
    """Either ``bars`` (a window: decide at the last bar) or ``bar`` + ``session_id`` (stream)."""

    model_config = ConfigDict(extra="forbid")

    bars: list[Bar] | None = Field(
        None, min_length=1, max_length=MAX_BARS, description="Window of bars, oldest first."
    )
    position: float | None = Field(
        None,
        strict=True,
        description="Window mode: side held at the last bar (-1, 0, 1; -1 needs a model that "
        "shorts); omitted: the path from flat over the window, as a backtest walks it.",
    )
    bar: Bar | None = Field(None, description="Stream mode: the next bar of the session.")
    session_id: str | None = Field(
        None, pattern=SESSION_PATTERN, description="Stream mode: session name."
    )
    max_gap: str | None = Field(
        None,
        max_length=32,
        description="Stream mode, first bar: largest allowed time between bars (e.g. '4D'); "
        "default 10 times the shortest spacing seen.",
    )
    request_id: str | None = Field(
        None,
        pattern=REQUEST_ID_PATTERN,
        description="Stream mode: an id for this bar (or the Idempotency-Key header); a "
        "resend with the same id gets the stored answer and changes nothing.",
    )

    @field_validator("max_gap")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if pd.Timedelta(value) <= pd.Timedelta(0):
                    raise ValueError
            except (ValueError, OverflowError):
                raise ValueError(f"'{value}' is not a positive duration (e.g. '4D')") from None
        return value

    @field_validator("position")
    @classmethod
    def _side(cls, value: float | None) -> float | None:
        if value is not None and float(value) not in SIDES:
            raise ValueError(f"must be -1, 0 or 1, got {value}")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> DecideRequest:
        if (self.bars is None) == (self.bar is None):
            raise ValueError("give either 'bars' (a window) or 'bar' with 'session_id' (a stream)")
        if self.bar is not None and self.session_id is None:
            raise ValueError("'session_id' is required with 'bar'")
        if self.bars is not None and self.session_id is not None:
            raise ValueError("'session_id' goes with 'bar', not with 'bars'")
        return self

    def frame(self) -> pd.DataFrame:
        """``bars`` as an OHLCV frame with a UTC index."""
        rows = [b.model_dump() for b in self.bars or []]
        df = pd.DataFrame(rows)
        idx = pd.DatetimeIndex(pd.to_datetime(df.pop("timestamp"), utc=True), name="timestamp")
        df.index = idx
        if "volume" in df and df["volume"].isna().all():
            df["volume"] = float("nan")
        return df
