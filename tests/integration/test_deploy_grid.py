"""The main journey over the whole grid: train -> calibrate -> package -> load -> serve ->
paper -> abtest, for every net (mlp, enhanced, ensemble), greedy and calibrated decisions,
``full`` and ``vol_target`` sizing. The package's, the service's (stream sessions over real
loopback HTTP) and paper trading's decisions and positions equal the backtest's, bar for bar.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _evaluation import tiny_config
from regime_trader.envs import spec
from regime_trader.package import build_package, load
from regime_trader.policy.calibration import CALIBRATION_FILE, save_calibration
from regime_trader.policy.policy import Policy, load_folder
from regime_trader.policy.rule import DecisionRule
from regime_trader.serve import ModelHolder, ServerThread, SessionManager, create_app
from regime_trader.serve.paper import backtest_decisions, paper_trade
from regime_trader.training import train
from regime_trader.workflows.abtest import ABSettings, abtest
from regime_trader.workflows.runs import backtest_run, calibrate_run

TOKEN = "grid-token-0123456789abcdef"
NETS = ("mlp", "enhanced", "ensemble")
SIZINGS = ("full", "vol_target")
RULES = ("greedy", "calibrated")
FIXED_RULE = DecisionRule(base=(0.0, 0.02, 0.01), boost=0.3, sizing="confidence")
_RUNS: dict[tuple[str, str], Path] = {}


@pytest.fixture(scope="module")
def grid_data(tmp_path_factory, ohlcv_factory, csv_writer) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("grid")
    frame = ohlcv_factory(700, seed=7)
    return csv_writer(frame, root / "bars.csv"), frame


def _trained(net: str, sizing: str, csv: Path, root: Path) -> Path:
    """One tiny training per (net, sizing), shared by the greedy and calibrated cases."""
    key = (net, sizing)
    if key not in _RUNS:
        cfg = tiny_config(
            csv,
            agent={"net": net, "learning_starts": 300},
            env={"sizing": sizing, "vol_window": 20, "target_vol": 0.15},
            train={"total_steps": 1200, "eval_every": 600},
        )
        train(cfg, root / f"{net}-{sizing}", progress=False)
        _RUNS[key] = root / f"{net}-{sizing}"
    return _RUNS[key]


def _run_folder(net: str, sizing: str, rule: str, csv: Path, root: Path) -> Path:
    run = Path(shutil.copytree(_trained(net, sizing, csv, root), root / f"{net}-{sizing}-{rule}"))
    (run / CALIBRATION_FILE).unlink(missing_ok=True)
    if rule == "calibrated":  # keep the best candidate whatever its gain
        cal = calibrate_run(run, min_gain=-1e9)
        assert cal.weights_sha256 and (run / CALIBRATION_FILE).is_file()
        if not cal.kept:  # a tiny net whose candidates all tie: the record with a real rule
            save_calibration(run, dataclasses.replace(cal, rule=FIXED_RULE))
    return run


def _reference(policy: Policy, bars: pd.DataFrame) -> pd.DataFrame:
    """The backtest's decisions on ``bars`` from flat at the first full window."""
    market = policy.prepare(bars).market
    first, last = policy.config.env.window - 1, len(market) - 1
    path = policy.decisions(market, first, last)
    idx = market.index[first : last + 1]
    return pd.DataFrame({"action": path.actions, "position": path.positions}, index=idx)


def _paper(pkg: Policy, bars: pd.DataFrame, tmp: Path) -> pd.DataFrame:
    holder = ModelHolder(model=pkg)
    sessions = SessionManager(holder, tmp / "sessions.db")
    app = create_app(holder, token=TOKEN, sessions=sessions)
    with ServerThread(app) as srv:
        return paper_trade(srv.url, TOKEN, bars, env_cfg=pkg.config.env).record


@pytest.mark.slow  # 6 tiny trainings (~1 min on two busy cores), then 12 deployments
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("sizing", SIZINGS)
@pytest.mark.parametrize("net", NETS)
def test_calibrated_runs_deploy_and_every_path_equals_the_backtest(
    net: str, sizing: str, rule: str, grid_data, tmp_path: Path
) -> None:
    csv, _ = grid_data
    run = _run_folder(net, sizing, rule, csv, csv.parent)
    bars = pd.read_csv(csv, index_col=0, parse_dates=True).iloc[-260:]
    bars.index = pd.DatetimeIndex(bars.index, tz="UTC") if bars.index.tz is None else bars.index
    run_policy = load_folder(run)
    assert run_policy.calibrated is (rule == "calibrated")
    ref = _reference(run_policy, bars)
    if sizing == "vol_target":  # fractional notionals once the vol window is filled
        held = ref["position"].abs()
        assert run_policy.bars_per_year is not None
        assert not held.any() or ((held > 0) & (held < 1)).any()

    pkg = load(build_package(run, tmp_path / "pkg"))  # every hash and the digest checked
    assert pkg.rule == run_policy.rule and pkg.calibrated is (rule == "calibrated")
    decided = pkg.decide(bars)
    np.testing.assert_array_equal(decided["action"].to_numpy(), ref["action"].to_numpy())
    np.testing.assert_allclose(decided["position"], ref["position"], rtol=0, atol=1e-12)

    # the command-line backtest of the run (its report's positions) on the same bars
    bars_csv = tmp_path / "bars.csv"
    bars.to_csv(bars_csv, index_label="timestamp")
    backtest_run(run, str(bars_csv), tmp_path / "bt", device="cpu")
    equity = pd.read_csv(tmp_path / "bt" / "equity.csv", index_col=0, parse_dates=True)
    equity = equity[equity["position"].notna()]  # the end row holds no step
    np.testing.assert_allclose(
        ref.loc[equity.index, "position"].to_numpy(), equity["position"].to_numpy(), atol=1e-12
    )

    paper = _paper(pkg, bars, tmp_path)  # the service, stream session, bar by bar
    assert len(paper) == len(ref)
    np.testing.assert_array_equal(paper.index, ref.index)
    np.testing.assert_allclose(paper["position"], ref["position"], rtol=0, atol=1e-9)
    settled = paper["return"].dropna()
    want = backtest_decisions(pkg, bars)["return"]
    last = spec.last_decision(len(bars), pkg.config.env.fill)
    assert len(settled) >= len(ref) - 3 and last > 0
    np.testing.assert_allclose(settled, want.loc[settled.index], rtol=0, atol=1e-12)

    summary = abtest([str(tmp_path / "pkg"), str(run)], str(bars_csv), ABSettings(runs=2))
    assert [m["calibrated"] for m in summary["models"]] == [rule == "calibrated"] * 2
    assert summary["comparisons"][0]["mean_diff"] == pytest.approx(0.0, abs=1e-12)
