"""Feature pipeline: names, warm-up handling, errors and the train-only scaler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regime_trader.config import FeatureConfig
from regime_trader.errors import ConfigError, DataError
from regime_trader.features import (
    FeatureSet,
    Scaler,
    build_features,
    compute_features,
    feature_lookback,
    feature_names,
)
from regime_trader.features.indicators import lookbacks

SPX = Path("/work/shared/data/daily/SPX_1d_yahoo_1999-2018.csv.gz")


def make_ohlcv(seed: int = 0, n: int = 300, start: float = 100.0) -> pd.DataFrame:
    """Geometric random walk with consistent OHLC (high >= max(o, c), low <= min(o, c))."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n)))
    open_ = np.concatenate([[start], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.005, n)))
    idx = pd.date_range("2001-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": np.nan}, index=idx
    )


def test_feature_names_default() -> None:
    assert feature_names(FeatureConfig()) == [
        "adx_14", "slope_14", "persistence_20", "rsi_14", "stoch_k", "stoch_d",
        "bb_width_20", "bb_pos_20", "ret_1", "ret_5", "ret_20", "vol_20", "range_1",
    ]  # fmt: skip
    cfg = FeatureConfig(adx_period=7, return_lags=(1, 2), vol_window=10)
    names = feature_names(cfg)
    assert "adx_7" in names and names[-4:] == ["ret_1", "ret_2", "vol_10", "range_1"]
    with pytest.raises(ConfigError, match="repeated"):
        feature_names(FeatureConfig(return_lags=(1, 1)))


def test_compute_features_shape_dtype_and_warmup() -> None:
    df = make_ohlcv()
    feats = compute_features(df)
    assert feats.index.equals(df.index)
    assert list(feats.columns) == feature_names(FeatureConfig())
    assert (feats.dtypes == np.float64).all()
    lb = feature_lookback()
    assert lb == 27
    assert feats.iloc[: lb - 1].isna().any(axis=1).all()  # warm-up kept as NaN, not dropped
    assert not feats.iloc[lb:].isna().any().any()
    # Each column starts exactly at its declared lookback.
    for name, col_lb in lookbacks(FeatureConfig()).items():
        col = feats[name].to_numpy()
        assert np.isnan(col[:col_lb]).all() and not np.isnan(col[col_lb:]).any(), name


def test_build_features_drops_warmup_without_backfill() -> None:
    df = make_ohlcv(1, 200)
    fs = build_features(df)
    lb = feature_lookback()
    assert isinstance(fs, FeatureSet) and fs.lookback == lb
    assert fs.values.dtype == np.float32 and fs.values.shape == (200 - lb, 13)
    assert fs.index.equals(df.index[lb:])
    assert np.isfinite(fs.values).all()
    raw = compute_features(df).iloc[lb:].to_numpy(dtype=np.float32)
    assert np.array_equal(fs.values, raw)
    frame = fs.to_frame()
    assert list(frame.columns) == fs.names and frame.index.equals(fs.index)


def test_features_are_scale_free() -> None:
    df = make_ohlcv(2, 150)
    a = compute_features(df).to_numpy()
    scaled = df.copy()
    scaled[["open", "high", "low", "close"]] *= 1000.0
    b = compute_features(scaled).to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_too_short_input_raises() -> None:
    lb = feature_lookback()
    build_features(make_ohlcv(0, lb + 1))  # exactly enough: one row
    with pytest.raises(DataError, match=rf"needs at least {lb + 1} bars .* got {lb}"):
        build_features(make_ohlcv(0, lb))


def test_non_finite_after_warmup_names_feature_and_time() -> None:
    df = make_ohlcv(3, 120)
    df.iloc[80, df.columns.get_loc("close")] = 0.0
    with pytest.raises(DataError, match=r"feature '\w+'.*2001-03-2[12].*check the input"):
        build_features(df)


def test_missing_column_raises() -> None:
    with pytest.raises(DataError, match="close"):
        compute_features(make_ohlcv().drop(columns="close"))


def test_scaler_fit_on_train_applied_to_test() -> None:
    fs = build_features(make_ohlcv(4, 600))
    train, test = fs.values[:400], fs.values[400:]
    scaler = Scaler.fit(train, fs.names)
    z_train = scaler.transform(train)
    assert z_train.dtype == np.float32
    np.testing.assert_allclose(z_train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z_train.std(axis=0), 1, atol=1e-3)
    z_test = scaler.transform(test)
    want = (test.astype(np.float64) - train.mean(axis=0, dtype=np.float64)) / train.std(
        axis=0, dtype=np.float64
    )
    np.testing.assert_allclose(z_test, np.clip(want, -10, 10), rtol=1e-4, atol=1e-4)
    # Statistics come from the training slice only.
    assert not np.allclose(scaler.mean, test.mean(axis=0), rtol=1e-3)
    # Round-trip through JSON.
    again = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert np.array_equal(again.transform(test), z_test) and again.names == fs.names


def test_scaler_std_floor_clip_and_shape_errors() -> None:
    values = np.column_stack([np.ones(10), np.arange(10.0)])
    scaler = Scaler.fit(values, ["const", "ramp"])
    assert scaler.std[0] == pytest.approx(1e-8)
    out = scaler.transform(np.array([[2.0, 1e6], [1.0, -1e6]]))
    assert out.tolist() == [[10.0, 10.0], [0.0, -10.0]]
    with pytest.raises(DataError, match="2 features"):
        scaler.transform(np.ones((3, 3)))
    with pytest.raises(DataError):
        Scaler.fit(np.full((3, 2), np.nan), ["a", "b"])


@pytest.mark.skipif(not SPX.exists(), reason="bundled S&P 500 data not present")
def test_spx_builds_clean() -> None:
    df = pd.read_csv(SPX, parse_dates=["timestamp"], index_col="timestamp")
    fs = build_features(df)
    assert fs.values.shape == (len(df) - 27, 13) and np.isfinite(fs.values).all()
