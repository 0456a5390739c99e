"""Features are built once per series and scaler in a comparison (evaluate, walk-forward,
demo's verification): every policy with the same inputs shares one `MarketData`."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from _evaluation import tiny_config
from regime_trader.policy import prepare as prepare_mod
from regime_trader.workflows import runs
from regime_trader.workflows.suite import SCENARIO_BARS, evaluate_suite
from regime_trader.workflows.walkforward import walkforward


@pytest.fixture
def builds(monkeypatch) -> Counter:
    """Counts `build_features` calls by (bars, first timestamp) of the frame."""
    counter: Counter = Counter()
    real = prepare_mod.build_features

    def counting(frame: pd.DataFrame, cfg):  # noqa: ANN001, ANN202
        counter[(len(frame), str(frame.index[0]), round(float(frame["close"].iloc[-1]), 6))] += 1
        return real(frame, cfg)

    monkeypatch.setattr(prepare_mod, "build_features", counting)
    return counter


def test_evaluate_builds_each_series_once(tmp_path: Path, tiny_run, series_csv, builds) -> None:
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    runs.calibrate_run(run, min_gain=-1e9)  # greedy and +cal share the run's features
    other = Path(shutil.copytree(run, tmp_path / "twin"))  # another run, an equal scaler
    builds.clear()
    rows = evaluate_suite(
        [f"a={run}", f"b={other}"],
        tmp_path / "eval",
        data=[str(series_csv)],
        scenarios="uptrend,plateau",
        seeds=(0,),
    )
    assert {"a", "a+cal", "b", "b+cal"} <= set(rows["policy"])
    assert sorted(builds.values()) == [1, 1, 1], builds  # 2 scenarios + 1 real series
    assert sum(n == SCENARIO_BARS for n, *_ in builds) == 2


@pytest.mark.slow  # trains two tiny agents (~20 s on two busy cores)
def test_walkforward_job_builds_its_window_once(tmp_path: Path, series_csv, builds) -> None:
    cfg = tiny_config(series_csv, curriculum={"synthetic_bars": 400})
    sizes = {"seeds": (0,), "n_windows": 1, "train_bars": 700, "val_bars": 200, "test_bars": 200}
    walkforward([str(series_csv)], tmp_path / "wf", cfg, scenarios=("uptrend",), **sizes)
    real = {k: v for k, v in builds.items() if k[0] not in (400, SCENARIO_BARS)}
    assert list(real.values()) == [1], builds  # training both agents and the test: one build
    assert sum(v for (n, *_), v in builds.items() if n == SCENARIO_BARS) == 1
