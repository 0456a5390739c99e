"""The backtest's regime predictions come from the same batched pass as its Q-values."""

import numpy as np
import torch

from regime_trader.config import EnvConfig
from regime_trader.nets import EnhancedDQN, MLPQNet
from regime_trader.policy.backtest import backtest_net, regime_accuracy


def test_regime_predictions_and_accuracy(tiny_market):
    torch.manual_seed(0)
    cfg = EnvConfig(window=5)
    net = EnhancedDQN(5, tiny_market.n_features, d_model=8, heads=2, lstm_hidden=8).eval()
    first, last = 10, 60
    res = backtest_net(net, tiny_market, first, last, cfg)
    t = torch.arange(first, last + 1)
    with torch.no_grad():
        _, logits = net(tiny_market.windows(t, 5), torch.zeros(len(t), 1))
    want = logits.argmax(1).numpy()
    np.testing.assert_array_equal(res.regime_pred, want)
    labels = tiny_market.regimes.numpy()[first : last + 1]
    known = labels >= 0
    assert regime_accuracy(res, tiny_market) == (want[known] == labels[known]).mean()


def test_no_detector_no_accuracy(tiny_market):
    res = backtest_net(MLPQNet(5, tiny_market.n_features), tiny_market, 10, 40, EnvConfig(window=5))
    assert res.regime_pred is None and regime_accuracy(res, tiny_market) is None
