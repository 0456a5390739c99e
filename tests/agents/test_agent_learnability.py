"""End-to-end learnability: on a steady trend the trained agent takes the obvious side.

Synthetic 800-bar trends (+-0.3 %/bar drift, 0.2 % daily noise), 70/15/15 split, window 10,
5 bps costs, 10k env steps (seeds 0-6 also pass at 20k; 10k halves the time). With 0.5 %
noise the MLP memorises noise in the 400 training bars and the downtrend test leaks exposure
(0.14-0.19, -8 to -10 %), so the noise is kept small: these tests check learning, not alpha.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from regime_trader.api import load_folder
from regime_trader.policy.backtest import backtest_net, decision_range
from regime_trader.policy.metrics import bars_per_year, compute_metrics
from regime_trader.training import prepare, train


def _train_and_backtest(ohlcv_factory, config_factory, tmp_path: Path, drift: float, seed: int):
    frame = ohlcv_factory(800, seed=seed, drift=drift, vol=0.002)
    cfg = config_factory(
        env={"window": 10, "cost_bps": 5.0},
        agent={"learning_starts": 1000},
        train={
            "total_steps": 10_000,
            "n_envs": 16,
            "eval_every": 5000,
            "seed": seed,
            "device": "cpu",
        },
    )
    data = prepare(cfg, ohlcv=frame)
    result = train(cfg, tmp_path, data=data, progress=False)
    assert result.env_steps >= 10_000
    assert (tmp_path / "model.safetensors").is_file()
    loaded = load_folder(tmp_path, torch.device("cpu"))
    loaded_cfg, net = loaded.config, loaded.net
    assert loaded_cfg == cfg
    assert not net.training
    first, last = decision_range(
        data.market, cfg.env.window, cfg.env.fill, data.split.test.start, data.split.test.stop
    )
    assert last - first > 60
    res = backtest_net(net, data.market, first, last, cfg.env)
    metrics = compute_metrics(
        res.returns, res.positions, bars_per_year=bars_per_year(data.market.index)
    )
    buy_hold = float(data.market.fill[last + 1] / data.market.fill[first] - 1)
    return res, metrics, buy_hold


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.slow  # ~4 per seed s on two busy cores
def test_learns_to_hold_a_steady_uptrend(
    ohlcv_factory, config_factory, tmp_path: Path, seed: int
) -> None:
    res, metrics, buy_hold = _train_and_backtest(
        ohlcv_factory, config_factory, tmp_path, 0.003, seed
    )
    assert buy_hold > 0.15  # the test period really rises
    assert res.positions[-1] == 1.0
    assert metrics["total_return"] > 0.0
    assert metrics["exposure"] > 0.8
    assert metrics["total_return"] > 0.5 * buy_hold


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.slow  # ~4 per seed s on two busy cores
def test_stays_out_of_a_steady_downtrend(
    ohlcv_factory, config_factory, tmp_path: Path, seed: int
) -> None:
    res, metrics, buy_hold = _train_and_backtest(
        ohlcv_factory, config_factory, tmp_path, -0.003, seed
    )
    assert buy_hold < -0.15  # the test period really falls
    assert metrics["exposure"] < 0.2
    assert metrics["total_return"] > -0.02
