"""Grid search end to end on a tiny budget; results table, best config, resume, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from regime_trader.config import Config
from regime_trader.errors import ConfigError
from regime_trader.training import loop, prepare
from regime_trader.tuning import run as tuning_run
from regime_trader.tuning import tune, tune_command

TINY = {
    "env": {"window": 10},
    "agent": {"learning_starts": 500, "buffer_size": 2000, "hidden": [32, 32]},
    "train": {"total_steps": 1500, "eval_every": 500, "n_envs": 8, "device": "cpu"},
    "tracking": {"backend": "none"},
}
GRID = {"agent.lr": [0.001, 0.0005]}


@pytest.fixture(scope="module")
def tiny(ohlcv_factory, config_factory):
    cfg = config_factory(**TINY)
    return cfg, prepare(cfg, ohlcv=ohlcv_factory(600, seed=1))


def test_grid_trains_every_combination_and_writes_the_best(tiny, tmp_path: Path, monkeypatch):
    cfg, data = tiny
    df = tune(cfg, tmp_path, backend="grid", trials=1, data=data, grid=GRID)
    assert list(df["trial"]) == ["grid-0000-r0", "grid-0001-r0"]
    assert list(df["agent.lr"]) == GRID["agent.lr"]
    assert (df["state"] == "complete").all() and df["val_sharpe"].notna().all()
    assert (df["seed"] == cfg.train.seed).all() and (df["env_steps"] >= 1500).all()
    assert (tmp_path / "trials" / "grid-0001-r0" / "model.safetensors").is_file()
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == 2 and "agent.lr" in table.columns
    md = (tmp_path / "results.md").read_text()
    assert "| agent.lr | val_sharpe | val_sharpe_std | n |" in md
    best = Config.from_yaml(tmp_path / "best_config.yaml")
    info = json.loads((tmp_path / "best.json").read_text())
    top = df.loc[df["val_sharpe"].idxmax()]
    assert best.agent.lr == top["agent.lr"] == info["params"]["agent.lr"]
    assert best.model_dump() == cfg.override(agent={"lr": best.agent.lr}).model_dump()

    # rerun in the same folder: finished trials are reused, nothing trains
    def no_train(*args, **kwargs):
        raise AssertionError("should not train")

    monkeypatch.setattr(loop, "train", no_train)
    again = tune(cfg, tmp_path, backend="grid", trials=1, data=data, grid=GRID)
    pd.testing.assert_frame_equal(again, df)
    with pytest.raises(AssertionError, match="should not train"):  # another budget: retrain
        tune(
            cfg.override(train={"total_steps": 1000}),
            tmp_path,
            backend="grid",
            trials=1,
            data=data,
            grid=GRID,
        )


def test_given_data_cannot_serve_other_data_settings(tiny, tmp_path: Path):
    cfg, data = tiny
    with pytest.raises(ConfigError, match="data=None"):
        tune(cfg, tmp_path, backend="grid", trials=1, data=data, grid={"env.window": [12]})


def test_tune_command_with_files(tmp_path: Path, ohlcv_factory, config_factory):
    csv = tmp_path / "bars.csv"
    ohlcv_factory(600, seed=2).rename_axis("timestamp").to_csv(csv)
    config = tmp_path / "tiny.yaml"
    config.write_text(config_factory(**TINY).to_yaml())
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"learning_rate": [0.001], "env.window": [10, 12]}))
    df = tune_command(config, str(csv), "grid", 1, None, tmp_path / "out", None, grid=grid)
    assert sorted(df["env.window"]) == [10, 12]  # each window prepares its own data
    assert (df["state"] == "complete").all()
    best = Config.from_yaml(tmp_path / "out" / "best_config.yaml")
    assert best.data.source == str(csv.resolve())
    assert best.train.total_steps == 1500
    lines = tuning_run.summary_lines(df, "grid")
    assert lines[0].startswith("2 trials (grid)")


def test_tune_command_errors(tmp_path: Path, monkeypatch):
    with pytest.raises(ConfigError, match="--backend must be one of grid, optuna, ray"):
        tune_command(None, None, "hyperopt", 1, "tiny", tmp_path, None)
    with pytest.raises(ConfigError, match="--budget"):
        tune_command(None, None, "grid", 1, "huge", tmp_path, None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="--address is only used"):
        tune(Config(), tmp_path, backend="grid", trials=1, address="ray://x:10001")
    with pytest.raises(ConfigError, match="--trials must be at least 1"):
        tune(Config(), tmp_path, backend="grid", trials=0)
    with pytest.raises(ConfigError, match="grid file"):
        tuning_run.load_grid(tmp_path / "missing.yaml")
    monkeypatch.setattr(tuning_run.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        ConfigError, match=r"install the 'distributed' extra: pip install -e '\.\[distributed\]'"
    ):
        tune_command(None, None, "ray", 1, "tiny", tmp_path, None)
    with pytest.raises(ConfigError, match=r"'tracking' extra"):
        tune_command(None, None, "optuna", 1, "tiny", tmp_path, None)


def test_trial_config_points_tracking_at_the_study(tmp_path: Path):
    from regime_trader.training.tracking import default_mlflow_uri
    from regime_trader.tuning.common import trial_config

    out = tmp_path / "study"
    cfg = trial_config(Config(), {"agent.lr": 0.001}, 7, out)
    assert (cfg.agent.lr, cfg.train.seed) == (0.001, 7)
    assert cfg.tracking.uri == default_mlflow_uri(out)
    assert cfg.tracking.experiment == "regime-trader-tune-study"
    assert trial_config(Config(), {}, 0, out, remote=True).tracking.backend == "jsonl"
    server = Config().override(tracking={"uri": "http://mlflow:5000"})
    remote = trial_config(server, {}, 0, out, remote=True).tracking
    assert (remote.backend, remote.uri) == ("auto", "http://mlflow:5000")
