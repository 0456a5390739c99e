"""The phase 4 commands as a user runs them: calibrate, evaluate, bad input."""

from __future__ import annotations

import json
import shutil

from regime_trader.cli import run


def test_calibrate_then_evaluate(tmp_path, tiny_run, capsys) -> None:
    run_dir = tmp_path / "agent"
    shutil.copytree(tiny_run, run_dir)
    assert run(["calibrate", str(run_dir)]) == 0
    assert "calibration.json" in capsys.readouterr().out
    assert json.loads((run_dir / "calibration.json").read_text())["trials"] > 100
    code = run(
        [
            "evaluate",
            str(run_dir),
            "--out",
            str(tmp_path / "ev"),
            "--scenarios",
            "downtrend",
            "--seeds",
            "1",
            "--bars",
            "400",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "agent+cal" in text and "oracle" in text and "down avoid" in text
    assert (tmp_path / "ev" / "results.parquet").is_file()


def test_evaluate_bad_input_is_one_line(tmp_path, tiny_run, capsys) -> None:
    assert (
        run(["evaluate", str(tiny_run), "--out", str(tmp_path / "x"), "--scenarios", "moon"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown scenario 'moon'" in err[0]
    assert run(["evaluate", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
