"""The feature and regime sections of the configuration (`regime_trader.config` re-exports
them): the inputs a trained run's scaler and labels depend on."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from regime_trader.errors import ConfigError
from regime_trader.utils.timeframes import parse_timeframes


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureConfig(Frozen):
    """TA-Lib feature periods. Every feature is scale-free (see docs/features.md)."""

    adx_period: int = Field(14, ge=2, description="ADX period (Wilder).")
    slope_period: int = Field(14, ge=2, description="Linear-regression slope period.")
    persistence_window: int = Field(20, ge=2, description="Trend persistence window.")
    rsi_period: int = Field(14, ge=2, description="RSI period.")
    stoch_k: int = Field(14, ge=2, description="Stochastic fast %K period.")
    stoch_slow: int = Field(3, ge=1, description="Stochastic slow %K smoothing period.")
    stoch_d: int = Field(3, ge=1, description="Stochastic %D period.")
    bb_period: int = Field(20, ge=2, description="Bollinger band period.")
    bb_std: float = Field(2.0, gt=0, description="Bollinger band width in standard deviations.")
    return_lags: tuple[int, ...] = Field((1, 5, 20), description="Log-return horizons in bars.")
    vol_window: int = Field(20, ge=2, description="Realised volatility window.")
    timeframes: tuple[str, ...] = Field(
        (),
        description="Coarser bars whose features join the observation as `name@tf`, e.g. "
        "['5min', '60min'] on minute data or ['W'] on daily data; each coarse bar is seen only "
        "after it has closed (docs/features.md). Empty: base features only.",
    )
    long_horizon: bool = Field(
        False,
        description="Add the long-horizon daily features (distance to the SMAs of sma_periods, "
        "momentum over momentum_lags, volatility against its vol_level_window level); off keeps "
        "the base columns (docs/features.md).",
    )
    sma_periods: tuple[int, ...] = Field(
        (50, 200), description="long_horizon: SMA periods of `sma_dist_N` (empty: none)."
    )
    momentum_lags: tuple[int, ...] = Field(
        (63, 126, 252), description="long_horizon: lags in bars of `mom_N` (empty: none)."
    )
    vol_level_window: int = Field(
        252,
        ge=0,
        description="long_horizon: bars of the volatility level in `vol_rel_N` (0: none).",
    )

    @field_validator("sma_periods", "momentum_lags")
    @classmethod
    def _check_periods(cls, value: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        """Every period >= 2 bars (lags >= 1), none repeated."""
        low = 2 if info.field_name == "sma_periods" else 1
        if any(v < low for v in value) or len(set(value)) != len(value):
            raise ValueError(f"needs distinct periods >= {low} bars, got {list(value)}")
        return value

    @field_validator("timeframes", mode="before")
    @classmethod
    def _split_timeframes(cls, value: object) -> object:
        """Accept "W,ME" as well as a list; check every token (parse_timeframes)."""
        if value is None:
            return ()
        if isinstance(value, str):
            value = value.split(",") if value.strip() else []
        if isinstance(value, (list, tuple)) and value:
            try:
                return tuple(parse_timeframes([str(v) for v in value]))
            except ConfigError as err:
                raise ValueError(str(err).removeprefix("timeframes: ")) from None
        return value


class RegimeConfig(Frozen):
    """Rule-based regime thresholds, all scale-free (docs/regimes.md gives shares and returns)."""

    window: int = Field(
        126,
        ge=5,
        description="Window of slope and volatility: half a year of daily bars, the horizon at "
        "which daily trends persist (docs/regimes.md; 20 was the plan's month).",
    )
    trend_threshold: float = Field(
        0.03, gt=0, description="|slope per bar| / per-bar volatility above which a market trends."
    )
    vol_history: int = Field(
        250, ge=20, description="Bars of the series' own history that set 'normal' volatility."
    )
    vol_threshold: float = Field(
        1.0,
        gt=0,
        description="Volatility / its rolling median above which a flat market oscillates.",
    )
    min_vol_ratio: float = Field(
        0.0, ge=0, description="Trends need volatility ratio above this (plan's MIN_VOLATILITY)."
    )
    min_duration: int = Field(
        5,
        ge=1,
        description="Causal minimum duration: a label changes only after the new rule label has "
        "held this many bars (1 = off; docs/regimes.md gives run lengths).",
    )
