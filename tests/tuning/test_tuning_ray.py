"""Ray Tune backend on a local 2-CPU Ray with a tiny budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from regime_trader.config import Config
from regime_trader.training import prepare
from regime_trader.tuning import tune

pytest.importorskip("ray.tune")

TINY = {
    "env": {"window": 10},
    "agent": {"learning_starts": 500, "buffer_size": 2000, "hidden": [32, 32]},
    "train": {"total_steps": 1500, "eval_every": 500, "n_envs": 8, "device": "cpu"},
    "tracking": {"backend": "none"},
}


@pytest.mark.slow  # ~43 s on two busy cores
def test_ray_runs_trials_in_parallel_and_writes_the_best(
    tmp_path: Path, ohlcv_factory, config_factory
):
    cfg = config_factory(**TINY)
    data = prepare(cfg, ohlcv=ohlcv_factory(600, seed=1))
    space = {"agent.lr": [0.001, 0.0005], "agent.gamma": [0.9, 0.99]}
    df = tune(cfg, tmp_path, backend="ray", trials=2, data=data, grid=space, num_cpus=2)
    assert len(df) == 2
    assert (df["state"] == "complete").all(), df.to_string()
    assert sorted(df["seed"]) == [cfg.train.seed, cfg.train.seed + 1]
    assert set(df["agent.lr"]) <= {0.001, 0.0005}
    for name in df["trial"]:
        assert (tmp_path / "trials" / name / "model.safetensors").is_file()
    assert (tmp_path / "ray").is_dir()
    best = Config.from_yaml(tmp_path / "best_config.yaml")
    top = df.loc[df["val_sharpe"].idxmax()]
    assert (best.agent.lr, best.agent.gamma) == (top["agent.lr"], top["agent.gamma"])
    assert best.train.device == "cpu"
