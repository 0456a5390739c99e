"""Same seed, same data -> bit-identical weights and backtests; another seed -> other weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from regime_trader.api import load_folder
from regime_trader.policy.backtest import backtest_net, decision_range
from regime_trader.policy.metrics import bars_per_year, compute_metrics
from regime_trader.training import prepare, train


@pytest.fixture(scope="module")
def tiny_data(ohlcv_factory, config_factory):
    cfg = config_factory(
        env={"window": 8, "episode_len": 64},
        agent={"learning_starts": 500, "hidden": [32, 32], "buffer_size": 5000},
        train={
            "total_steps": 3000,
            "n_envs": 8,
            "eval_every": 1000,
            "device": "cpu",
        },
    )
    return cfg, prepare(cfg, ohlcv=ohlcv_factory(500, seed=3))


def _run(tiny_data, out: Path, seed: int):
    cfg, data = tiny_data
    cfg = cfg.override(train={"seed": seed})
    result = train(cfg, out, data=data, progress=False)
    weights = load_file(str(out / "model.safetensors"))
    net = load_folder(out, torch.device("cpu")).net
    first, last = decision_range(
        data.market, cfg.env.window, cfg.env.fill, data.split.test.start, data.split.test.stop
    )
    res = backtest_net(net, data.market, first, last, cfg.env)
    metrics = compute_metrics(
        res.returns, res.positions, bars_per_year=bars_per_year(data.market.index)
    )
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    for rec in log:
        rec.pop("seconds", None)
    return result, weights, res, metrics, log


@pytest.mark.slow  # ~6 s on two busy cores
def test_same_seed_same_weights_and_metrics(tiny_data, tmp_path: Path) -> None:
    r1, w1, b1, m1, log1 = _run(tiny_data, tmp_path / "a", seed=11)
    r2, w2, b2, m2, log2 = _run(tiny_data, tmp_path / "b", seed=11)
    assert r1.updates > 0 and r1.updates == r2.updates
    assert r1.best_val_sharpe == r2.best_val_sharpe
    assert w1.keys() == w2.keys()
    for k in w1:
        assert torch.equal(w1[k], w2[k]), k
    np.testing.assert_array_equal(b1.actions, b2.actions)
    np.testing.assert_array_equal(b1.returns, b2.returns)
    assert m1 == m2
    assert log1 == log2
    # the resumable checkpoint (online, target, optimiser) matches too
    c1 = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    c2 = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    for part in ("net", "target"):
        for k, v in c1["agent"][part].items():
            assert torch.equal(v, c2["agent"][part][k]), (part, k)


@pytest.mark.slow  # ~2 s on two busy cores
def test_other_seed_other_weights(tiny_data, tmp_path: Path) -> None:
    _, w1, *_ = _run(tiny_data, tmp_path / "a", seed=11)
    _, w2, *_ = _run(tiny_data, tmp_path / "b", seed=12)
    assert w1.keys() == w2.keys()
    assert any(not torch.equal(w1[k], w2[k]) for k in w1)
