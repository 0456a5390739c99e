"""Trackers: JSON lines, MLflow on a SQLite file (offline), the null tracker, backend choice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from regime_trader.config import Config, TrackingConfig
from regime_trader.errors import ConfigError
from regime_trader.training.tracking import (
    JsonlTracker,
    MlflowTracker,
    NullTracker,
    Tracker,
    config_params,
    default_mlflow_uri,
    flatten_params,
    make_tracker,
    mlflow_available,
    mlflow_home,
)


def test_flatten_nested_dicts_to_dotted_names():
    flat = flatten_params({"agent": {"lr": 1e-3, "hidden": [8, 8]}, "x": {"y": {"z": 1}}})
    assert flat == {"agent.lr": 1e-3, "agent.hidden": [8, 8], "x.y.z": 1}
    params = config_params(Config())
    assert params["agent.lr"] == Config().agent.lr
    assert params["tracking.backend"] == "auto"


def test_jsonl_tracker_writes_lines_and_params(tmp_path: Path):
    outside = tmp_path / "report.txt"
    outside.write_text("hello")
    run = tmp_path / "run"
    with JsonlTracker(run) as tr:
        assert isinstance(tr, Tracker)
        tr.log_params({"agent": {"lr": 0.001}, "seed": 3})
        tr.log_metrics({"eval/val_sharpe": 0.5, "note": "skipped", "flag": True}, step=100)
        tr.log_metrics({"train/td_loss": float("nan"), "updates": 7}, step=200)
        tr.log_artifact(outside)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines == [
        {"step": 100, "eval/val_sharpe": 0.5},
        {"step": 200, "train/td_loss": None, "updates": 7.0},
    ]
    assert json.loads((run / "params.json").read_text()) == {"agent.lr": 0.001, "seed": 3}
    assert (run / "artifacts" / "report.txt").read_text() == "hello"


def test_null_tracker_accepts_everything(tmp_path: Path):
    with make_tracker(TrackingConfig(backend="none"), tmp_path, "r") as tr:
        assert isinstance(tr, NullTracker)
        tr.log_params({"a": 1})
        tr.log_metrics({"b": 2.0}, step=1)
        tr.log_artifact(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_backend_choice(tmp_path: Path):
    jsonl = make_tracker(TrackingConfig(backend="jsonl"), tmp_path / "a", "a")
    assert isinstance(jsonl, JsonlTracker)
    jsonl.close()
    if not mlflow_available():
        auto = make_tracker(TrackingConfig(), tmp_path / "b", "b")
        assert isinstance(auto, JsonlTracker)
        auto.close()


def test_default_uri_uses_the_runs_folder(tmp_path: Path):
    assert mlflow_home(tmp_path / "runs" / "demo" / "enhanced") == (tmp_path / "runs").resolve()
    assert mlflow_home(tmp_path / "elsewhere") == (tmp_path / "elsewhere").resolve()
    uri = default_mlflow_uri(tmp_path / "runs" / "demo")
    assert uri == f"sqlite:///{(tmp_path / 'runs').resolve()}/mlflow.db"


def test_mlflow_missing_is_a_config_error(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # import fails
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[tracking\]'"):
        make_tracker(TrackingConfig(backend="mlflow"), tmp_path, "r")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.slow  # ~3 s on two busy cores
def test_mlflow_run_has_params_metrics_and_artifact(tmp_path: Path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("REGIME_TRADER_TRACKING", raising=False)  # let "auto" pick MLflow
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "runs" / "demo"
    artifact = tmp_path / "config.yaml"
    artifact.write_text(Config().to_yaml())
    cfg = TrackingConfig(backend="auto", experiment="test-exp")
    with make_tracker(cfg, run_dir, "demo") as tr:
        assert isinstance(tr, MlflowTracker)
        tr.log_params(config_params(Config()))
        for step, sharpe in [(500, 0.1), (1000, 0.4)]:
            tr.log_metrics({"eval/val_sharpe": sharpe, "env_steps": step}, step=step)
        tr.log_artifact(artifact)
        run_id, uri = tr.run_id, tr.uri
    assert uri == f"sqlite:///{(tmp_path / 'runs').resolve()}/mlflow.db"
    assert (tmp_path / "runs" / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "demo"
    assert run.data.params["agent.lr"] == str(Config().agent.lr)
    assert run.data.params["agent.hidden"] == "[128, 128]"
    history = client.get_metric_history(run_id, "eval/val_sharpe")
    assert [(m.step, m.value) for m in history] == [(500, 0.1), (1000, 0.4)]
    assert [a.path for a in client.list_artifacts(run_id)] == ["config.yaml"]
    assert (tmp_path / "runs" / "mlartifacts").is_dir()
    # a failing block marks the run failed; a second run joins the same experiment
    with pytest.raises(RuntimeError), make_tracker(cfg, run_dir, "again") as tr2:
        raise RuntimeError("boom")
    assert client.get_run(tr2.run_id).info.status == "FAILED"
    assert tr2.experiment_id == client.get_run(run_id).info.experiment_id


@pytest.mark.slow  # ~4 s on two busy cores
def test_train_logs_params_metrics_and_artifacts_to_mlflow(tmp_path: Path, ohlcv_frame):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from regime_trader.training import prepare, train

    cfg = Config.from_dict({
        "data": {"train_end": None, "val_end": None}, "env": {"window": 10},
        "agent": {"hidden": [16], "learning_starts": 200},
        "train": {"total_steps": 1200, "eval_every": 400, "n_envs": 8},
        "tracking": {"backend": "mlflow", "experiment": "train-test"},
    })  # fmt: skip
    run_dir = tmp_path / "runs" / "r1"
    train(cfg, run_dir, data=prepare(cfg, ohlcv=ohlcv_frame), progress=False)
    client = MlflowClient(tracking_uri=f"sqlite:///{(tmp_path / 'runs').resolve()}/mlflow.db")
    exp = client.get_experiment_by_name("train-test")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.params["env.window"] == "10"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "eval/val_sharpe")]
    assert steps == [400, 800, 1200]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "model.safetensors", "train_log.jsonl"} <= names
