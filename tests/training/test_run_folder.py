"""Run folders are safe: a run is never silently replaced, a failed start leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from regime_trader.config import Config
from regime_trader.errors import ConfigError, RegimeTraderError
from regime_trader.training import loop, prepare, train
from regime_trader.training.checkpoint import load_run
from regime_trader.training.loop import TrainResult

CFG = {
    "data": {"train_end": None, "val_end": None},
    "env": {"window": 10},
    "agent": {"hidden": [16], "learning_starts": 100, "batch_size": 16},
    "train": {"total_steps": 400, "eval_every": 200, "n_envs": 8, "seed": 1},
    "tracking": {"backend": "jsonl"},
}


@pytest.fixture(scope="module")
def cfg() -> Config:
    return Config.from_dict(CFG)


@pytest.fixture(scope="module")
def data(cfg, ohlcv_frame):
    return prepare(cfg, ohlcv=ohlcv_frame)


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("marker", ["config.yaml", "model.safetensors", "checkpoint.pt"])
def test_a_folder_holding_a_run_is_refused(tmp_path, cfg, marker):
    run = tmp_path / "run"
    run.mkdir()
    (run / marker).write_text("old run")
    before = _listing(run)
    with pytest.raises(ConfigError) as err:
        train(cfg, run, progress=False)  # refused before the data is even read
    msg = str(err.value)
    assert "\n" not in msg and str(run) in msg and marker in msg
    assert "use --resume to continue or --force to overwrite" in msg
    assert _listing(run) == before and (run / marker).read_text() == "old run"


def test_force_replaces_the_old_run_and_everything_describing_it(tmp_path, cfg, data):
    run = tmp_path / "run"
    train(cfg, run, data=data, progress=False)
    old = Config.from_dict({**CFG, "agent": {**CFG["agent"], "hidden": [8]}})
    (run / "config.yaml").write_text(old.to_yaml())  # pretend the old run was another model
    for name in ("metrics.json", "report.html", "equity.csv"):  # a demo-style report
        (run / name).write_text("old")
    for sub in ("test", "backtest-2017"):  # `backtest --out RUN/test` folders
        (run / sub).mkdir()
        (run / sub / "metrics.json").write_text("{}")
        (run / sub / "report.html").write_text("old")
    (run / "enhanced").mkdir()  # a nested run (the demo's enhanced/)
    (run / "enhanced" / "model.safetensors").write_text("old")
    (run / "notes.txt").write_text("mine")  # not written by regime-trader: stays
    (run / "mlflow.db").write_text("store")  # an MLflow store kept in the folder: stays
    result = train(cfg, run, data=data, progress=False, force=True)
    assert result.env_steps == cfg.train.total_steps
    for gone in ("test", "backtest-2017", "enhanced", "metrics.json", "report.html", "equity.csv"):
        assert not (run / gone).exists(), gone
    assert (run / "notes.txt").read_text() == "mine" and (run / "mlflow.db").read_text() == "store"
    saved, _, weights = load_run(run)
    assert saved == cfg and weights
    log = (run / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 2  # this run's validations only


def test_a_bad_data_source_leaves_no_folder(tmp_path, cfg):
    bad = cfg.override(data={"source": str(tmp_path / "missing.csv")})
    with pytest.raises(RegimeTraderError):
        train(bad, tmp_path / "a" / "b" / "run", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_config_leaves_no_folder(tmp_path, ohlcv_frame):
    bad = Config.from_dict({**CFG, "agent": {"net": "enhanced", "d_model": 6, "heads": 4}})
    with pytest.raises(ValueError):  # heads must divide d_model: raised building the net
        train(bad, tmp_path / "run", data=prepare(bad, ohlcv=ohlcv_frame), progress=False)
    assert list(tmp_path.iterdir()) == []


class Boom(RuntimeError):
    pass


def _fail_at_first_validation(monkeypatch):
    def evaluate(*args, **kwargs):
        raise Boom("validation failed")

    monkeypatch.setattr(loop, "_evaluate", evaluate)


def test_a_failure_before_the_first_checkpoint_removes_what_the_call_wrote(
    tmp_path, cfg, data, monkeypatch
):
    _fail_at_first_validation(monkeypatch)
    with pytest.raises(Boom):  # the folder did not exist: it goes entirely
        train(cfg, tmp_path / "new" / "run", data=data, progress=False)
    assert list(tmp_path.iterdir()) == []
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(Boom):  # the folder existed: only what the call wrote goes
        train(cfg, mine, data=data, progress=False)
    assert _listing(mine) == {"notes.txt"}


def test_a_failure_after_a_checkpoint_keeps_the_run_for_resume(tmp_path, cfg, data, monkeypatch):
    real, calls = loop._evaluate, []

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Boom("second validation failed")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_evaluate", evaluate)
    run = tmp_path / "run"
    with pytest.raises(Boom):
        train(cfg, run, data=data, progress=False)
    assert {"config.yaml", "checkpoint.pt", "model.safetensors"} <= _listing(run)
    monkeypatch.setattr(loop, "_evaluate", real)
    result = train(cfg, run, data=data, progress=False, resume=True)
    assert result.resumed_from == cfg.train.eval_every
    assert result.env_steps == cfg.train.total_steps


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_over(tmp_path, cfg, data):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(cfg.to_yaml())  # what a kill before any checkpoint leaves
    (run / "train_log.jsonl").write_text('{"stale": true}\n')
    result = train(cfg, run, data=data, progress=False, resume=True)
    assert result.resumed_from == 0 and result.env_steps == cfg.train.total_steps
    assert "stale" not in (run / "train_log.jsonl").read_text()


def test_resume_with_another_config_is_refused_before_any_work(tmp_path, cfg):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(cfg.to_yaml())
    other = cfg.override(agent={"lr": 1e-2})
    with pytest.raises(ConfigError, match="differs"):
        train(other, run, progress=False, resume=True)
    with pytest.raises(ConfigError, match="no config.yaml"):
        train(cfg, tmp_path / "empty", progress=False, resume=True)


def test_train_result_reports_this_calls_steps_and_time():
    res = TrainResult(Path("r"), 0.5, env_steps=6000, updates=100, seconds=2.0, resumed_from=4000)
    assert res.steps_this_call == 2000
    assert res.steps_per_second == 1000.0


# MLflow: a resumed run continues its own MLflow run; killed runs are marked KILLED


def _mlflow_cfg(tmp_path: Path) -> Config:
    uri = f"sqlite:///{(tmp_path / 'store' / 'mlflow.db').resolve()}"
    return Config.from_dict({**CFG, "tracking": {"backend": "mlflow", "uri": uri}})


@pytest.mark.slow  # ~8 s on two busy cores
def test_a_resumed_run_continues_its_mlflow_run(tmp_path, data, monkeypatch):
    pytest.importorskip("mlflow")
    import json

    from mlflow.tracking import MlflowClient

    cfg = _mlflow_cfg(tmp_path)
    real, calls = loop._evaluate, []

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C after the first checkpoint
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_evaluate", evaluate)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run, data=data, progress=False)
    saved = json.loads((run / "tracking.json").read_text())
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    assert client.get_run(saved["run_id"]).info.status == "KILLED"
    monkeypatch.setattr(loop, "_evaluate", real)
    train(cfg, run, data=data, progress=False, resume=True)
    assert json.loads((run / "tracking.json").read_text())["run_id"] == saved["run_id"]
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    (only,) = client.search_runs([exp.experiment_id])  # no second run
    assert only.info.run_id == saved["run_id"] and only.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(only.info.run_id, "eval/val_sharpe")]
    assert steps == [200, 400]
    resumed = client.get_metric_history(only.info.run_id, "train/resumed_from")
    assert [m.value for m in resumed] == [200.0]


@pytest.mark.slow  # ~4 s on two busy cores
def test_killed_runs_are_marked_at_the_next_start(tmp_path):
    pytest.importorskip("mlflow")
    import os
    import subprocess
    import sys

    from regime_trader.training.tracking import HOST_TAG, PID_TAG, MlflowTracker

    uri = f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs
    alive = MlflowTracker(uri, "exp", "alive")  # this process: still running
    assert alive.client.get_run(alive.run_id).data.tags[PID_TAG] == str(os.getpid())
    elsewhere = MlflowTracker(uri, "exp", "elsewhere")  # another machine's run: unknown
    elsewhere.client.set_tag(elsewhere.run_id, HOST_TAG, "another-host")
    elsewhere.client.set_tag(elsewhere.run_id, PID_TAG, str(dead.pid))
    killed = MlflowTracker(uri, "exp", "killed")  # left RUNNING, as after a SIGKILL
    killed.client.set_tag(killed.run_id, PID_TAG, str(dead.pid))
    with MlflowTracker(uri, "exp", "next") as nxt:
        assert nxt.killed == [killed.run_id]
        status = {r: nxt.client.get_run(r).info.status for r in (killed.run_id, elsewhere.run_id)}
        assert status == {killed.run_id: "KILLED", elsewhere.run_id: "RUNNING"}
        assert nxt.client.get_run(alive.run_id).info.status == "RUNNING"
    for tracker in (elsewhere, alive):
        tracker.close()
