"""Tests that catch leakage, each by perturbing bars a stage must not read:

* validation + test bars changed: the scaler and the whole training trajectory (losses, final
  online network) are unchanged (a scaler fitted on all rows, or training on later bars, fails);
* test bars changed: the kept checkpoint (selected on validation) and the calibration are
  unchanged (selection or calibration on test bars fails);
* the calibration period lies inside ``split.json``'s validation part;
* the regime label of every decision bar is the one computed from bars up to that bar only
  (labels shifted into the future fail).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from _evaluation import tiny_config
from regime_trader.data import load_ohlcv
from regime_trader.data.split_report import load_split
from regime_trader.evaluation.evaluate import decision_bounds, evaluate_period
from regime_trader.policy.policy import load_folder
from regime_trader.policy.prepare import prepare
from regime_trader.regimes import classify_regimes
from regime_trader.training import train
from regime_trader.workflows.runs import calibrate_run

pytestmark = pytest.mark.slow  # three tiny trainings (~15 s on two busy cores)


def _shock(frame: pd.DataFrame, start: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Bars from ``start`` on multiplied by a random walk (valid OHLC, other prices)."""
    out = frame.copy()
    rows = out.index >= start
    walk = np.exp(np.cumsum(np.random.default_rng(seed).normal(0.002, 0.03, rows.sum())))
    out.loc[rows, ["open", "high", "low", "close"]] *= walk[:, None]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, ohlcv_factory, csv_writer) -> dict:
    root = tmp_path_factory.mktemp("leak")
    frame = ohlcv_factory(900, seed=5)
    csv = csv_writer(frame, root / "clean.csv")
    cfg = tiny_config(csv, train={"total_steps": 2000, "eval_every": 500})
    data = prepare(cfg)
    val_from = data.ohlcv.index[data.split.val.start]
    test_from = data.ohlcv.index[data.split.test.start]
    frame = load_ohlcv(csv)
    out = {"cfg": cfg, "root": root}
    for name, bars in (
        ("clean", frame),
        ("later", _shock(frame, val_from, 1)),  # validation and test bars changed
        ("test", _shock(frame, test_from, 2)),  # only test bars changed
    ):
        path = csv_writer(bars, root / f"{name}.csv")
        run = root / name
        train(cfg.override(data={"source": str(path)}), run, progress=False)
        calibrate_run(run, min_gain=-1e9)
        out[name] = run
    return out


def _log(run: Path, key: str) -> list[float]:
    lines = (run / "train_log.jsonl").read_text().splitlines()
    return [json.loads(line)[key] for line in lines]


def _final_online_net(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    return state["agent"]["net"]


def test_later_bars_change_neither_the_scaler_nor_training(runs) -> None:
    clean, later = runs["clean"], runs["later"]
    scaler = [json.loads((r / "features.json").read_text())["scaler"] for r in (clean, later)]
    assert scaler[0] == scaler[1]
    assert _log(clean, "train/td_loss") == _log(later, "train/td_loss")
    a, b = _final_online_net(clean), _final_online_net(later)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _log(clean, "eval/val_sharpe") != _log(later, "eval/val_sharpe")  # the shock shows


def test_test_bars_change_neither_selection_nor_calibration(runs) -> None:
    clean, test = runs["clean"], runs["test"]
    weights = [(r / "model.safetensors").read_bytes() for r in (clean, test)]
    assert weights[0] == weights[1]
    cal = [json.loads((r / "calibration.json").read_text()) for r in (clean, test)]
    assert cal[0] == cal[1]


def test_calibration_period_is_inside_validation(runs) -> None:
    run = runs["clean"]
    split = load_split(run)
    period = json.loads((run / "calibration.json").read_text())["period"]
    val_start, val_end = _utc(split["val"]["start"]), _utc(split["val"]["end"])
    assert val_start <= _utc(period["start"]) <= _utc(period["end"]) <= val_end


def _utc(stamp: str) -> pd.Timestamp:
    ts = pd.Timestamp(stamp)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def test_regime_labels_describe_their_own_bar(runs) -> None:
    run = runs["clean"]
    policy = load_folder(run)
    frame = load_ohlcv(policy.config.data.source)
    data = prepare(policy.config, scaler=policy.scaler)
    first, last = decision_bounds(data.market, policy.config, 0, len(data.market))
    ev = evaluate_period(policy, data.market, first, last)
    index = data.market.index[first : last + 1]
    want = [  # every decision bar's label from the bars up to it only
        np.asarray(classify_regimes(frame.loc[:ts], policy.config.regimes))[-1] for ts in index
    ]
    assert (np.diff(ev.regimes) != 0).any(), "no regime change in the period: cannot catch a shift"
    bad = np.flatnonzero(ev.regimes != np.asarray(want))
    assert not bad.size, f"labels of {list(index[bad[:3]])} are not computed from bars <= them"
    shifted = np.roll(ev.regimes, -1)[:-1]  # the check can fail: a one-bar look-ahead is seen
    assert (shifted != np.asarray(want)[:-1]).any()
