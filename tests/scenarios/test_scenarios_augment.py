"""The plan's augmentations of real data: no jumps at joins, fresh index, consistent OHLC."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from regime_trader.data import load_ohlcv, validate_ohlcv
from regime_trader.data.validation import OHLCV_COLUMNS
from regime_trader.errors import DataError
from regime_trader.scenarios import (
    generate,
    generate_synthetic_plateaus,
    generate_synthetic_uptrends,
)

Augment = Callable[..., pd.DataFrame]
AUGMENTS: list[Augment] = [generate_synthetic_uptrends, generate_synthetic_plateaus]


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    """A slice of the bundled S&P 500 (a view into a larger frame, as users pass it)."""
    return load_ohlcv("spx").iloc[200:1400]


def run(fn: Augment, real: pd.DataFrame, n: int = 30, seed: int = 0, **kw: object) -> pd.DataFrame:
    """Call an augmentation with a fresh seeded Generator, turning every warning into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(real, n, rng=np.random.default_rng(seed), **kw)


@pytest.mark.parametrize("fn", AUGMENTS)
def test_output_is_one_valid_continuous_series(fn: Augment, real: pd.DataFrame) -> None:
    out = run(fn, real, 30, length=50)
    assert len(out) == 30 * 50 and list(out.columns) == [*OHLCV_COLUMNS, "sample"]
    assert out.index.is_unique and out.index.is_monotonic_increasing
    assert (out.index[1:] - out.index[:-1] == pd.Timedelta("1D")).all()
    assert isinstance(out.index, pd.DatetimeIndex) and str(out.index.tz) == "UTC"
    assert out.index[0] == pd.Timestamp(real.index[0]).normalize()
    np.testing.assert_array_equal(out["sample"], np.repeat(np.arange(30), 50))
    pd.testing.assert_frame_equal(validate_ohlcv(out), out[list(OHLCV_COLUMNS)])
    o, h, lo, c = (out[col].to_numpy() for col in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all() and (lo > 0).all()


@pytest.mark.parametrize("fn", AUGMENTS)
def test_no_price_jumps_at_joins(fn: Augment, real: pd.DataFrame) -> None:
    out = run(fn, real, 40, length=60)
    gaps = np.abs(np.log(out["open"].to_numpy()[1:] / out["close"].to_numpy()[:-1]))
    joins = np.arange(60, len(out), 60)
    assert gaps[joins - 1].max() < 1e-12  # first open == previous sample's last close
    assert gaps.max() < 0.03  # and no bar jumps anywhere (real SPX gaps stay below 2 %)
    moves = np.abs(np.diff(np.log(out["close"].to_numpy())))
    assert moves[joins - 1].max() < 0.08


@pytest.mark.parametrize("fn", AUGMENTS)
def test_seeded_and_input_untouched(fn: Augment, real: pd.DataFrame) -> None:
    before = real.copy()
    pd.testing.assert_frame_equal(run(fn, real, seed=5), run(fn, real, seed=5))
    assert not np.allclose(run(fn, real, seed=5)["close"], run(fn, real, seed=6)["close"])
    pd.testing.assert_frame_equal(real, before)


@pytest.mark.parametrize("fn", AUGMENTS)
def test_accepts_other_spellings_and_start(fn: Augment, real: pd.DataFrame) -> None:
    yahoo = real.rename(columns=str.title).reset_index().rename(columns={"timestamp": "Date"})
    out = run(fn, yahoo, 5, length=20, start="2030-01-01")
    assert out.index[0] == pd.Timestamp("2030-01-01", tz="UTC")


def test_uptrends_ramp_every_window() -> None:
    falling = generate("downtrend", 600, rng=np.random.default_rng(0))
    out = run(generate_synthetic_uptrends, falling, 20, length=50, strengthening_factor=1.2)
    close = out["close"].to_numpy().reshape(20, 50)
    # every falling window is detrended, then ramped: it gains exactly the factor
    np.testing.assert_allclose(close[:, -1] / close[:, 0], 1.2, rtol=1e-12)
    rising = generate("uptrend", 600, rng=np.random.default_rng(0))
    raw = rising["close"].to_numpy()
    out = run(generate_synthetic_uptrends, rising, 20, length=50, strengthening_factor=1.2)
    close = out["close"].to_numpy().reshape(20, 50)
    real_gain = np.sort(raw[49:] / raw[:-49])
    gain = close[:, -1] / close[:, 0] / 1.2  # strengthened: the real window's gain remains
    assert np.all(np.min(np.abs(gain[:, None] - real_gain[None, :]), axis=1) < 1e-9)


def test_plateaus_are_flat_with_open_at_previous_close(real: pd.DataFrame) -> None:
    out = run(generate_synthetic_plateaus, real, 25, length=80, noise=0.004)
    close = np.log(out["close"].to_numpy().reshape(25, 80))
    dev = close - close.mean(axis=1, keepdims=True)
    assert dev.std() == pytest.approx(0.004, rel=0.15) and np.abs(dev).max() < 0.03
    np.testing.assert_allclose(out["open"].to_numpy()[1:], out["close"].to_numpy()[:-1])


@pytest.mark.parametrize("fn", AUGMENTS)
def test_bad_arguments(fn: Augment, real: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="num_samples"):
        run(fn, real, 0)
    with pytest.raises(ValueError, match="length"):
        run(fn, real, 3, length=1)
    with pytest.raises(DataError, match="too few rows"):
        run(fn, real.iloc[:50], 3, length=100)


def test_bad_factor_and_noise(real: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="strengthening_factor"):
        run(generate_synthetic_uptrends, real, 3, strengthening_factor=0.0)
    with pytest.raises(ValueError, match="noise"):
        run(generate_synthetic_plateaus, real, 3, noise=-0.1)
