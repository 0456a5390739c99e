"""`MarketData.windows`: the strided gather equals explicit slicing and refuses bad bars."""

import numpy as np
import pandas as pd
import pytest
import torch

from regime_trader.envs.market import MarketData


def _market(n: int = 40, f: int = 3) -> MarketData:
    rng = np.random.default_rng(0)
    idx = pd.date_range("2020-01-01", periods=n, freq="D")
    ohlcv = pd.DataFrame({"open": 100 + rng.random(n), "close": 100 + rng.random(n)}, index=idx)
    feats = np.asfortranarray(rng.normal(size=(n, f)))  # column-major, as pandas often gives
    return MarketData.build(feats, ohlcv, np.zeros(n, np.int64), names=["a", "b", "c"])


def test_features_are_row_major():
    assert _market().features.is_contiguous()


def test_windows_equal_slices():
    m = _market()
    t = torch.tensor([[4, 39], [10, 7]])
    w = m.windows(t, 5)
    assert w.shape == (2, 2, 5, 3)
    for i in range(2):
        for j in range(2):
            end = int(t[i, j])
            torch.testing.assert_close(w[i, j], m.features[end - 4 : end + 1], rtol=0, atol=0)


@pytest.mark.parametrize("bar", [3, -1, 40])
def test_windows_refuse_bars_without_a_full_window(bar):
    with pytest.raises((IndexError, RuntimeError)):
        _market().windows(torch.tensor([bar]), 5)
