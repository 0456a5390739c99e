"""Optuna backend: a resumable SQLite study, median pruning through `train`'s ``on_eval``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from regime_trader.config import Config
from regime_trader.training import loop, prepare
from regime_trader.tuning import tune
from regime_trader.tuning.optuna_backend import STUDY_NAME, storage_uri

optuna = pytest.importorskip("optuna")

TINY = {
    "env": {"window": 10},
    "agent": {"learning_starts": 500, "buffer_size": 2000, "hidden": [32, 32]},
    "train": {"total_steps": 1500, "eval_every": 500, "n_envs": 8, "device": "cpu"},
    "tracking": {"backend": "none"},
}


@pytest.fixture(scope="module")
def tiny(ohlcv_factory, config_factory):
    cfg = config_factory(**TINY)
    return cfg, prepare(cfg, ohlcv=ohlcv_factory(600, seed=1))


@pytest.mark.slow  # ~4 s on two busy cores
def test_rerun_resumes_the_study_and_adds_trials(tiny, tmp_path: Path):
    cfg, data = tiny
    space = {"agent.lr": [0.001, 0.0005], "agent.gamma": [0.9, 0.99]}
    first = tune(cfg, tmp_path, backend="optuna", trials=2, data=data, grid=space)
    assert len(first) == 2
    df = tune(cfg, tmp_path, backend="optuna", trials=2, data=data, grid=space)
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage_uri(tmp_path))
    assert len(study.trials) == 4
    assert list(df["trial"]) == [f"optuna-{n:04d}" for n in range(4)]
    assert list(df["seed"]) == [cfg.train.seed + n for n in range(4)]
    assert (df["state"] == "complete").all()
    assert (tmp_path / "optuna.db").is_file()
    assert (tmp_path / "trials" / "optuna-0003" / "model.safetensors").is_file()
    best = Config.from_yaml(tmp_path / "best_config.yaml")
    assert best.agent.lr == study.best_params["agent.lr"]
    assert best.agent.gamma == study.best_params["agent.gamma"]
    assert math.isclose(df["val_sharpe"].max(), study.best_value)


def test_median_pruning_stops_a_bad_trial(tiny, tmp_path: Path, monkeypatch):
    cfg, data = tiny

    def fake_train(cfg, out_dir, *, data=None, progress=True, force=False, on_eval=None):
        good = cfg.train.seed < 5  # trials 0-4 score 1.0 at every validation, later ones -1.0
        value = 1.0 if good else -1.0
        for step in (500, 1000, 1500):
            on_eval(step, {"env_steps": step, "eval/val_sharpe": value})
        return loop.TrainResult(Path(out_dir), value, 1500, 10, 0.1)

    monkeypatch.setattr(loop, "train", fake_train)
    df = tune(cfg, tmp_path, backend="optuna", trials=6, data=data, grid={"agent.lr": [0.001]})
    assert list(df["state"]) == ["complete"] * 5 + ["pruned"]
    assert math.isnan(df["val_sharpe"].iloc[5])
    md = (tmp_path / "results.md").read_text()
    assert "6 trials: 5 complete, 1 pruned." in md
