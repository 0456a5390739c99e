"""Request bodies of the decision service (pydantic v2; a bad field gives 422 naming it)."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BARS = 5000  # bars in one window request
SESSION_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


def _price(desc: str):  # noqa: ANN202 - a pydantic Field
    return Field(gt=0, allow_inf_nan=False, description=desc)


class Bar(BaseModel):
    """One closed OHLCV bar; naive timestamps are read as UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: datetime = Field(description="Bar time (ISO 8601).")
    open: float = _price("Open price (> 0).")
    high: float = _price("High price (>= open, close).")
    low: float = _price("Low price (<= open, close).")
    close: float = _price("Close price (> 0).")
    volume: float | None = Field(None, ge=0, description="Volume (unused by the features).")

    @model_validator(mode="after")
    def _brackets(self) -> Bar:
        if self.high < max(self.open, self.close) or self.low > min(self.open, self.close):
            raise ValueError("high must be >= open and close, and low <= open and close")
        if self.volume is not None and not math.isfinite(self.volume):
            raise ValueError("volume must be finite")
        return self

    def as_dict(self) -> dict:
        return {"timestamp": self.timestamp.isoformat(), **self.model_dump(exclude={"timestamp"})}


class DecideRequest(BaseModel):
    """Either ``bars`` (a window: decide at the last bar) or ``bar`` + ``session_id`` (stream)."""

    model_config = ConfigDict(extra="forbid")

    bars: list[Bar] | None = Field(
        None, min_length=1, max_length=MAX_BARS, description="Window of bars, oldest first."
    )
    position: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Window mode: side held at the last bar (-1, 0, 1); omitted: the path "
        "from flat over the window, as a backtest on these bars walks it.",
    )
    bar: Bar | None = Field(None, description="Stream mode: the next bar of the session.")
    session_id: str | None = Field(
        None, pattern=SESSION_PATTERN, description="Stream mode: session name."
    )
    max_gap: str | None = Field(
        None,
        description="Stream mode, first bar: largest allowed time between bars (e.g. '4D'); "
        "default 10 times the shortest spacing seen.",
    )

    @model_validator(mode="after")
    def _one_mode(self) -> DecideRequest:
        if (self.bars is None) == (self.bar is None):
            raise ValueError("give either 'bars' (a window) or 'bar' with 'session_id' (a stream)")
        if self.bar is not None and self.session_id is None:
            raise ValueError("'session_id' is required with 'bar'")
        if self.bars is not None and self.session_id is not None:
            raise ValueError("'session_id' goes with 'bar', not with 'bars'")
        if self.max_gap is not None:
            try:
                if pd.Timedelta(self.max_gap) <= pd.Timedelta(0):
                    raise ValueError
            except ValueError:
                raise ValueError(f"max_gap '{self.max_gap}' is not a positive duration") from None
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
