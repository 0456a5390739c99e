"""Multi-timeframe features: resampling, the causal join, and the plan's look-ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regime_trader.config import FeatureConfig
from regime_trader.data import load_ohlcv
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import compute_features, feature_names
from regime_trader.features.timeframes import (
    base_duration,
    multi_timeframe_features,
    multi_timeframe_names,
    parse_timeframes,
    resample_ohlcv,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
BTC = DATA / "intraday" / "BTCUSDT_1m_binanceus_2023-03.csv.gz"
EUR = DATA / "intraday" / "EURUSD_1m_histdata_2017H1.csv.gz"
SPX = DATA / "daily" / "SPX_1d_yahoo_1999-2018.csv.gz"
AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
PRICES = ["open", "high", "low", "close"]


def _load(path: Path, rows: int) -> pd.DataFrame:
    if not path.exists():
        pytest.skip(f"{path} not present")
    return load_ohlcv(path).iloc[:rows]


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    """20,000 gap-free Binance.US minutes (about two weeks)."""
    return _load(BTC, 20_000)


@pytest.fixture(scope="module")
def eur() -> pd.DataFrame:
    """20,000 HistData EUR/USD minutes: short gaps and two weekend closures."""
    return _load(EUR, 20_000)


def plan_multi_timeframe(df: pd.DataFrame, tf: str, cfg: FeatureConfig) -> pd.DataFrame:
    """The plan's sketch: resample, compute, then reindex with forward fill (leaks)."""
    resampled = df.resample(tf).agg(AGG)
    return compute_features(resampled, cfg).reindex(df.index, method="ffill")


# --- parse_timeframes ---------------------------------------------------------------------


def test_parse_timeframes_accepts_intraday_and_daily_lists() -> None:
    assert parse_timeframes("5min, 15min,30min,60min,240min") == [
        "5min",
        "15min",
        "30min",
        "60min",
        "240min",
    ]
    assert parse_timeframes("W,ME") == ["W", "ME"]
    assert parse_timeframes(["4h", "D", "W-SAT", "QE"]) == ["4h", "D", "W-SAT", "QE"]
    assert parse_timeframes("") == [] and parse_timeframes(None) == []


@pytest.mark.parametrize(
    ("spec", "bad"),
    [
        ("5min,fortnight", "fortnight"),
        ("5min,,60min", "empty"),
        ("0min", "0min"),
        ("-5min", "-5min"),
        ("2W", "2W"),
        ("B", "B"),
        ("60min,1h", "1h"),
    ],
)
def test_parse_timeframes_names_the_bad_token(spec: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=bad):
        parse_timeframes(spec)


# --- resample_ohlcv -------------------------------------------------------------------------


@pytest.mark.parametrize("tf", ["5min", "60min", "240min", "D"])
def test_resample_matches_pandas_without_inventing_bars(eur: pd.DataFrame, tf: str) -> None:
    ours = resample_ohlcv(eur, tf)
    want = eur.resample(tf).agg(AGG).dropna(subset=["open"])  # drop the empty bins
    assert ours.index.equals(want.index)
    np.testing.assert_array_equal(ours[PRICES].to_numpy(), want[PRICES].to_numpy())
    assert ours["volume"].isna().all()  # quote data: no volume, not a sum of zeros
    assert ours["n_bars"].sum() == len(eur)
    assert (ours.index.day_of_week != 5).all()  # no bar invented on the Saturday closures
    assert (ours["close_time"] <= ours["bin_end"]).all()
    assert (ours["bin_end"] - ours.index == pd.Timedelta(tf if tf != "D" else "1D")).all()


def test_resample_sums_volume(btc: pd.DataFrame) -> None:
    ours = resample_ohlcv(btc, "15min")
    want = btc.resample("15min").agg(AGG)
    np.testing.assert_allclose(ours["volume"].to_numpy(), want["volume"].to_numpy(), rtol=1e-12)
    assert base_duration(btc.index) == pd.Timedelta("1min")


@pytest.mark.parametrize("tf", ["W", "ME"])
def test_calendar_bins_match_pandas_and_are_labelled_by_their_start(tf: str) -> None:
    spx = _load(SPX, 1500)
    ours = resample_ohlcv(spx, tf)
    want = spx.resample(tf).agg(AGG).dropna(subset=["open"])  # pandas labels by the bin END
    np.testing.assert_array_equal(ours[PRICES].to_numpy(), want[PRICES].to_numpy())
    if tf == "W":
        assert (ours.index.day_of_week == 0).all()  # Monday 00:00 UTC
        assert (want.index - ours.index == pd.Timedelta("6D")).all()
    else:
        assert (ours.index.day == 1).all()
        assert (ours.index.strftime("%Y-%m") == want.index.strftime("%Y-%m")).all()
        assert (ours["bin_end"] == ours.index + pd.offsets.MonthBegin(1)).all()


# --- the causal join ------------------------------------------------------------------------


def test_columns_and_base_features(btc: pd.DataFrame) -> None:
    df = btc.iloc[:3000]
    out = multi_timeframe_features(df, "5min,60min")
    assert list(out.columns) == multi_timeframe_names(["5min", "60min"])
    assert "rsi_14@60min" in out.columns and "adx_14@5min" in out.columns
    base = feature_names()
    pd.testing.assert_frame_equal(out[base], compute_features(df), check_freq=False)


def test_join_is_the_plan_delayed_by_one_coarse_bar(btc: pd.DataFrame) -> None:
    """Row t shows what the plan shows at the last row of the previous coarse bar."""
    cfg = FeatureConfig()
    for tf in ("15min", "60min", "240min"):
        plan = plan_multi_timeframe(btc, tf, cfg).to_numpy()
        ours = multi_timeframe_features(btc, [tf], cfg)[[f"{n}@{tf}" for n in feature_names(cfg)]]
        first_of_bin = np.searchsorted(btc.index, btc.index.floor(tf))
        prev = first_of_bin - 1
        want = np.where((prev >= 0)[:, None], plan[np.maximum(prev, 0)], np.nan)
        np.testing.assert_array_equal(ours.to_numpy(), want)
        assert np.isfinite(ours.to_numpy()[-1]).all()
        assert not np.array_equal(ours.to_numpy(), plan, equal_nan=True)


def test_plan_sketch_leaks_the_future_and_ours_does_not(btc: pd.DataFrame) -> None:
    df = btc.iloc[:6000]
    t = int(np.flatnonzero(df.index == pd.Timestamp("2023-03-04 10:10", tz="UTC"))[0])
    moved = df.copy()
    moved.iloc[t + 1 :, [moved.columns.get_loc(c) for c in PRICES]] *= 1.05  # future only
    cfg = FeatureConfig()
    plan_a = plan_multi_timeframe(df, "60min", cfg).to_numpy()[t]
    plan_b = plan_multi_timeframe(moved, "60min", cfg).to_numpy()[t]
    assert not np.allclose(plan_a, plan_b, equal_nan=True)  # 10:10 already "knows" 10:59
    ours_a = multi_timeframe_features(df, "60min", cfg).to_numpy()[: t + 1]
    ours_b = multi_timeframe_features(moved, "60min", cfg).to_numpy()[: t + 1]
    np.testing.assert_array_equal(ours_a, ours_b)


def test_weekend_gap_shows_fridays_last_bar_on_sunday(eur: pd.DataFrame) -> None:
    out = multi_timeframe_features(eur, "60min,240min")
    gaps = np.flatnonzero(np.diff(eur.index.asi8) > pd.Timedelta("1D").value) + 1
    assert gaps.size >= 2
    for tf in ("60min", "240min"):
        coarse = resample_ohlcv(eur, tf)
        feats = compute_features(coarse)
        for i in gaps:  # first bar after the closure
            pos = coarse.index.get_loc(eur.index[i - 1].floor(tf))  # Friday's last coarse bar
            assert coarse["bin_end"].iloc[pos] <= eur.index[i]
            got = out.iloc[i][[f"{n}@{tf}" for n in feats.columns]].to_numpy()
            np.testing.assert_array_equal(got, feats.iloc[pos].to_numpy())
            # One row earlier (Friday's last bar) that coarse bar was still open.
            got = out.iloc[i - 1][[f"{n}@{tf}" for n in feats.columns]].to_numpy()
            np.testing.assert_array_equal(got, feats.iloc[pos - 1].to_numpy())


def test_daily_series_with_weekly_and_monthly_bars() -> None:
    spx = _load(SPX, 1500)
    out = multi_timeframe_features(spx, "W,ME")
    monthly = compute_features(resample_ohlcv(spx, "ME"))
    month = np.asarray(spx.index.strftime("%Y-%m"))
    first_days = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
    for i in first_days[30:40]:  # after the 28-month warm-up
        prev_month = int(np.searchsorted(monthly.index, spx.index[i], side="right")) - 2
        assert monthly.index[prev_month].strftime("%Y-%m") == spx.index[i - 1].strftime("%Y-%m")
        want = monthly.iloc[prev_month].to_numpy()
        np.testing.assert_array_equal(out.iloc[i][[f"{n}@ME" for n in monthly.columns]], want)
    # Within a month the monthly columns never change.
    me = out[[c for c in out.columns if c.endswith("@ME")]].to_numpy()
    same = np.all((me[1:] == me[:-1]) | np.isnan(me[1:]), axis=1)
    assert same[month[1:] == month[:-1]].all()


def test_rejects_timeframes_not_coarser_than_the_bars_and_bad_indexes() -> None:
    spx = _load(SPX, 300)
    with pytest.raises(DataError, match="not coarser"):
        multi_timeframe_features(spx, "60min")
    with pytest.raises(DataError, match="increasing"):
        multi_timeframe_features(spx.iloc[::-1], "W")
    with pytest.raises(ConfigError, match="nope"):
        multi_timeframe_features(spx, "W,nope")


def test_empty_frame() -> None:
    empty = pd.DataFrame(
        {c: pd.Series(dtype=float) for c in [*PRICES, "volume"]},
        index=pd.DatetimeIndex([], tz="UTC", name="timestamp"),
    )
    assert resample_ohlcv(empty, "5min").empty
    assert multi_timeframe_features(empty, "5min").shape == (0, 2 * len(feature_names()))
