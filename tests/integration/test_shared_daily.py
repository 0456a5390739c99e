"""A fresh user's path on real data: default settings, a tiny budget, train then backtest.

Uses the shared daily series next to the repository (``../shared/data/daily``); skipped
where they are absent. N225 (2010-2011, 489 bars) is the shortest: its test part is under
two months, so its report must flag the annualised figures. About 5-10 s per series
(all 18 series: a few minutes, hence `slow`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regime_trader import api
from regime_trader.data.split_report import load_split
from regime_trader.errors import DataError

# the source has bars whose low is above the open or close (2015-03-05, 2015-03-30)
BAD_BARS = {"SPY_1d_yahoo_2007-2017.csv.gz": r"SPY_1d.*rule 'low > min\(open, close\)'.*row 2056"}
DAILY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "daily"
# every shared daily series (the "done when"); the two named ones when absent (skipped)
SERIES = sorted(p.name for p in DAILY.glob("*.csv.gz")) or [
    "N225_1d_yahoo_2010-2011.csv.gz",
    "DIA_1d_yahoo_2009-2012.csv.gz",
]


@pytest.mark.parametrize("name", SERIES)
@pytest.mark.slow  # ~2-3 per series s on two busy cores
def test_train_and_backtest_default_settings(tmp_path: Path, name: str) -> None:
    path = DAILY / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    if name in BAD_BARS:  # real data errors: refused with the file, rule and rows named
        with pytest.raises(DataError, match=BAD_BARS[name]):
            api.train_run(api.load_config(None, data=str(path)), tmp_path / "run", progress=False)
        assert not (tmp_path / "run").exists()
        return
    cfg = api.load_config(None, data=str(path)).override(
        train={"total_steps": 3000, "eval_every": 1000, "device": "cpu"},
        tracking={"backend": "jsonl"},
    )
    run_dir = tmp_path / "run"
    result = api.train_run(cfg, run_dir, progress=False)
    assert result.env_steps >= 3000 and (run_dir / "model.safetensors").is_file()
    split = load_split(run_dir)
    assert split is not None and split["method"] == "fractions"
    assert all(split[p]["bars"] >= 20 for p in ("train", "val", "test"))

    test_start = split["test"]["start"]
    ev = api.backtest_run(run_dir, str(path), tmp_path / "test", start=test_start)
    assert ev.period["start"] == test_start
    metrics = json.loads((tmp_path / "test" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["period"] == ev.period
    short = ev.period["years"] < 1
    assert ev.period["short"] is short
    html = (tmp_path / "test" / "report.html").read_text(encoding="utf-8")
    assert ("annualised from" in html) is short
