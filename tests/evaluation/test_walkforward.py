"""Walk-forward windows and one end-to-end job (original, regime-aware, calibrated)."""

from __future__ import annotations

import pandas as pd
import pytest

from _evaluation import tiny_config
from regime_trader.cli import run
from regime_trader.errors import DataError
from regime_trader.evaluation.results import read_results
from regime_trader.workflows.walkforward import make_windows, walkforward, window_test_span


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2010-01-01", periods=n, freq="D", tz="UTC")


def test_windows_roll_forward_and_never_overlap_their_tests() -> None:
    idx = _index(1000)
    ws = make_windows(idx, 3, train_bars=400, val_bars=100, test_bars=100)
    assert [w.number for w in ws] == [0, 1, 2]
    assert ws[-1].end == idx[-1].isoformat()
    for w in ws:
        assert w.start < w.train_end < w.val_end < w.end
    for a, b in zip(ws, ws[1:], strict=False):
        assert a.end < b.test_start  # tests never overlap
        assert pd.Timestamp(b.end) - pd.Timestamp(a.end) == pd.Timedelta(days=100)


def test_test_windows_have_the_length_asked_after_the_embargo() -> None:
    idx = _index(1000)
    ws = make_windows(idx, 2, train_bars=400, val_bars=100, test_bars=100, embargo=10)
    for w in ws:
        lo, hi = window_test_span(idx, w, embargo=10)
        assert lo == pd.Timestamp(w.test_start) and hi == pd.Timestamp(w.end)
        assert len(idx[(idx >= lo) & (idx <= hi)]) == 100  # exactly --test-bars decisions
        val_end = idx.get_loc(pd.Timestamp(w.val_end))
        assert idx.get_loc(lo) == val_end + 1 + 10  # the embargo after validation


def test_too_short_series_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="too few for 3 walk-forward window"):
        make_windows(_index(500), 3, train_bars=400, val_bars=100, test_bars=100)


@pytest.mark.slow  # two tiny trainings per job
def test_one_job_end_to_end_and_rerun_skips(tmp_path, series_csv) -> None:
    cfg = tiny_config(series_csv, curriculum={"synthetic_bars": 400})
    args = ([str(series_csv)], tmp_path / "wf", cfg)
    sizes = {"seeds": (0,), "n_windows": 1, "train_bars": 700, "val_bars": 200, "test_bars": 200}
    rows = walkforward(*args, **sizes)
    whole = rows[rows["regime"] == "all"]
    assert {"original", "regime_aware", "calibrated", "buy_and_hold", "oracle"} <= set(
        whole["policy"]
    )
    assert (whole.groupby("series")["bars"].nunique() == 1).all()  # paired bars per part
    assert set(rows.loc[rows["kind"] == "synthetic", "series"]) == {
        k for k in ("uptrend", "downtrend", "plateau", "oscillating", "switching")
    }
    job = next((tmp_path / "wf" / "jobs").iterdir())
    assert (job / "regime_aware" / "calibration.json").is_file()
    import yaml

    ra = yaml.safe_load((job / "regime_aware" / "config.yaml").read_text())
    og = yaml.safe_load((job / "original" / "config.yaml").read_text())
    assert ra["agent"]["net"] == "enhanced" and og["agent"]["net"] == "mlp"
    for section in ("train", "data", "env"):
        assert ra[section] == og[section]  # same budget, seed, bars, envs
    assert ra["agent"]["batch_size"] == og["agent"]["batch_size"]
    assert ra["agent"]["train_freq"] == og["agent"]["train_freq"]
    again = walkforward(*args, **sizes)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), rows.reset_index(drop=True))
    disk, _ = read_results(tmp_path / "wf")
    assert len(disk) == len(rows)


def test_cli_walkforward_too_short(tmp_path, series_csv, capsys) -> None:
    code = run(
        [
            "walkforward",
            "--out",
            str(tmp_path / "wf"),
            "--data",
            str(series_csv),
            "--windows",
            "5",
            "--train-bars",
            "1000",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "too few for 5 walk-forward window" in err and "walk.csv" in err


@pytest.mark.slow  # starts a local Ray instance (~45 s on two busy cores)
def test_ray_backend_equals_local(tmp_path, series_csv) -> None:
    pytest.importorskip("ray")
    cfg = tiny_config(series_csv, curriculum={"synthetic_bars": 400})
    sizes = {"seeds": (0,), "n_windows": 1, "train_bars": 700, "val_bars": 200, "test_bars": 200}
    ray_rows = walkforward([str(series_csv)], tmp_path / "ray", cfg, backend="ray", **sizes)
    local = walkforward([str(series_csv)], tmp_path / "local", cfg, **sizes)
    keys = ["series", "kind", "window", "seed", "policy", "regime"]
    pd.testing.assert_frame_equal(
        ray_rows.sort_values(keys).reset_index(drop=True),
        local.sort_values(keys).reset_index(drop=True),
    )
