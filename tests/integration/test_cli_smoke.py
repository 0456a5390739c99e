"""The `regime-trader` command line end to end on tiny data: exit codes, messages, outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from regime_trader.cli import run
from regime_trader.evaluation.strong_baselines import STRONG_BASELINES
from regime_trader.policy.metrics import METRIC_KEYS as METRIC_KEY_NAMES

METRIC_KEYS = set(METRIC_KEY_NAMES)  # every strategy reports the library's metric set
STRATEGIES = {"strategy", "buy_and_hold", "sma_crossover", *STRONG_BASELINES}


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("error:")
    return lines[0]


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory, ohlcv_factory, csv_writer) -> Path:
    path = tmp_path_factory.mktemp("data") / "synthetic.csv"
    return csv_writer(ohlcv_factory(600, seed=5), path)


@pytest.fixture(scope="module")
def fraction_yaml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "fractions.yaml"
    path.write_text(
        "data: {train_end: null, val_end: null}\ntrain: {device: cpu}\n", encoding="utf-8"
    )
    return path


def test_data_list(capsys) -> None:
    assert run(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("spx", "aapl", "eurusd_1h", "btcusdt_1m"):
        assert name in out


def test_features_writes_parquet(tmp_path: Path, capsys) -> None:
    target = tmp_path / "x.parquet"
    assert run(["features", "spx", "--out", str(target)]) == 0
    frame = pd.read_parquet(target)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing
    assert "regime" in frame.columns
    assert set(frame["regime"].unique()) <= {
        "unknown",
        "uptrend",
        "downtrend",
        "plateau",
        "oscillating",
    }
    assert frame.shape[1] > 5
    assert len(frame) > 4000
    assert "wrote" in capsys.readouterr().out


def test_features_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no_such_file.csv"
    assert run(["features", str(missing), "--out", str(tmp_path / "x.parquet")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "no_such_file.csv" in line
    assert not (tmp_path / "x.parquet").exists()


def test_malformed_csv_exits_2_naming_the_rule(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2020-01-01,10,11,9,10.5,100\n"
        "2020-01-02,10,9,11,10.5,100\n"  # high < low
        "2020-01-03,10,11,9,10.5,100\n",
        encoding="utf-8",
    )
    assert run(["features", str(bad), "--out", str(tmp_path / "x.parquet")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "bad.csv" in line
    assert "rule" in line
    assert "high" in line and ("max(open, close)" in line or "low" in line)
    assert "row 1" in line


def test_regimes_plot_writes_png(tmp_path: Path, capsys) -> None:
    png = tmp_path / "p.png"
    assert run(["regimes", "spx", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 1000
    out = capsys.readouterr().out
    assert "uptrend" in out and "mean run length" in out


def test_train_bogus_budget_exits_2(tmp_path: Path, capsys) -> None:
    assert run(["train", "--budget", "bogus", "--out", str(tmp_path / "r")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "bogus" in line
    assert not (tmp_path / "r").exists()


def test_unknown_option_exits_2(capsys) -> None:
    assert run(["train", "--no-such-option"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--no-such-option" in line


def test_backtest_of_a_non_run_folder_exits_2(tmp_path: Path, synthetic_csv: Path, capsys) -> None:
    folder = tmp_path / "not_a_run"
    folder.mkdir()
    code = run(
        ["backtest", str(folder), "--data", str(synthetic_csv), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "not_a_run" in line


def _cli_command() -> list[str]:
    script = Path(sys.executable).parent / "regime-trader"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "regime_trader.cli"]


@pytest.mark.slow  # ~2 s on two busy cores
def test_subprocess_exit_code_and_single_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REGIME_TRADER_DEBUG"}
    proc = subprocess.run(
        [*_cli_command(), "features", "missing_input.csv", "--out", "x.parquet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "missing_input.csv" in line
    assert not (tmp_path / "x.parquet").exists()


def test_subprocess_module_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "regime_trader.cli", "data", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "spx" in proc.stdout


@pytest.mark.slow  # ~4 s on two busy cores
def test_train_then_backtest(
    tmp_path: Path, synthetic_csv: Path, fraction_yaml: Path, capsys
) -> None:
    run_dir = tmp_path / "RUN"
    code = run(
        [
            "train",
            "--set",  # a tiny budget: this test checks the files, not the learning
            "train.total_steps=3000",
            "--set",
            "train.eval_every=1000",
            "--data",
            str(synthetic_csv),
            "--config",
            str(fraction_yaml),
            "--out",
            str(run_dir),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    for name in ("config.yaml", "features.json", "model.safetensors", "train_log.jsonl"):
        assert (run_dir / name).is_file(), name
    assert "steps/s" in capsys.readouterr().out

    out_dir = tmp_path / "OUT"
    code = run(["backtest", str(run_dir), "--data", str(synthetic_csv), "--out", str(out_dir)])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == STRATEGIES | {"period"}  # "period": the exact period traded
    for name, m in ((k, metrics[k]) for k in STRATEGIES):
        assert set(m) == METRIC_KEYS, name
        assert all(isinstance(v, int | float) for v in m.values()), name
    assert metrics["buy_and_hold"]["exposure"] == pytest.approx(1.0)
    equity = pd.read_csv(out_dir / "equity.csv", index_col="timestamp")
    assert set(equity.columns) >= STRATEGIES
    assert {"position", "regime"} <= set(equity.columns)
    assert len(equity) > 400
    assert equity["buy_and_hold"].iloc[-1] == pytest.approx(
        1 + metrics["buy_and_hold"]["total_return"], rel=1e-9
    )
    assert (out_dir / "trades.csv").is_file()
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower()
    assert "results in" in capsys.readouterr().out

    # a period outside the data is bad input, not a crash
    code = run(
        [
            "backtest",
            str(run_dir),
            "--data",
            str(synthetic_csv),
            "--out",
            str(tmp_path / "OUT2"),
            "--start",
            "2099-01-01",
        ]
    )
    assert code == 2
    assert "2099-01-01" in _one_error_line(capsys.readouterr().err)


@pytest.mark.slow  # ~46 s on two busy cores
def test_demo_tiny_end_to_end(tmp_path: Path, capsys, monkeypatch) -> None:
    from regime_trader.policy import prepare as prepare_mod

    builds: dict[tuple, int] = {}
    real = prepare_mod.build_features

    def counting(frame, cfg):  # noqa: ANN001, ANN202 - counts every feature build
        key = (len(frame), str(frame.index[0]), float(frame["close"].iloc[-1]))
        builds[key] = builds.get(key, 0) + 1
        return real(frame, cfg)

    monkeypatch.setattr(prepare_mod, "build_features", counting)
    code = run(["demo", "--budget", "tiny", "--out-root", str(tmp_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    # spx once for both agents, calibration and the verification; each scenario once
    assert max(builds.values()) == 1, {k: v for k, v in builds.items() if v > 1}
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(runs) == 1
    run_dir = runs[0]
    assert (run_dir / "report.html").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == STRATEGIES | {"period"}
    for m in (metrics[k] for k in STRATEGIES):
        assert set(m) == METRIC_KEYS
    out = capsys.readouterr().out
    assert "run folder" in out
    # equal work: both agents ran one config but the presets (net, reward, replay, curriculum)
    from regime_trader.presets import REGIME_AWARE

    base = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    ra = yaml.safe_load((run_dir / "regime_aware" / "config.yaml").read_text(encoding="utf-8"))
    for section, fields in REGIME_AWARE.items():
        for name, want in fields.items():
            assert ra[section].pop(name) == want
            base[section].pop(name)
    assert ra == base
    assert (run_dir / "regime_aware" / "calibration.json").is_file()
    assert (run_dir / "verification" / "results.parquet").is_file()
    assert "Verification" in out and "regime-aware (calibrated) minus original" in out
