"""Calibration: searched on validation only, tied to the weights it was fitted on."""

from __future__ import annotations

import json
import shutil

import pytest

from regime_trader.api import calibrate_run
from regime_trader.errors import ConfigError
from regime_trader.policy.calibration import GRID, SIZINGS, candidate_rules, load_rule
from regime_trader.policy.rule import DecisionRule


def test_grid_starts_with_greedy_and_has_no_duplicates() -> None:
    rules = candidate_rules(0.5)
    assert rules[0] == DecisionRule()
    assert len(set(rules)) == len(rules)
    n = {k: len(v) for k, v in GRID.items()}
    rest = n["margin"] * n["sell_up"] * n["buy_down"] * len(SIZINGS)
    boosted = (n["boost"] - 1) * n["threshold"] * rest
    unboosted = rest - 1  # the threshold is moot without a boost; one point is the greedy rule
    assert len(rules) == 1 + boosted + unboosted


def test_calibration_is_saved_loaded_and_reproducible(tmp_path, tiny_run) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    a = calibrate_run(run)
    saved = json.loads((run / "calibration.json").read_text())
    assert saved["trials"] == a.trials == len(candidate_rules(a.scale))
    assert saved["val_sharpe"] >= saved["val_sharpe_greedy"]
    assert load_rule(run) == a.rule
    b = calibrate_run(run)
    assert b.to_dict() == a.to_dict()


def test_a_rule_that_gains_nothing_is_not_kept(tmp_path, tiny_run) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    cal = calibrate_run(run, min_gain=1e9)
    assert not cal.kept and cal.rule == DecisionRule()


def test_calibration_of_other_weights_is_refused(tmp_path, tiny_run) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    calibrate_run(run)
    weights = run / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="fitted on other weights"):
        load_rule(run)


def test_missing_or_broken_calibration(tmp_path, tiny_run) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "calibration.json").unlink(missing_ok=True)
    assert load_rule(run) == DecisionRule()
    with pytest.raises(ConfigError, match="regime-trader calibrate"):
        load_rule(run, required=True)
    (run / "calibration.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a calibration file"):
        load_rule(run)


@pytest.mark.parametrize("min_capture", [0.0, 0.9, 1.0])
def test_kept_rule_captures_the_validation_uptrends(tiny_run, min_capture: float) -> None:
    """Calibration may not buy validation Sharpe by waiting through uptrends: the kept rule
    captures at least min(min_capture, greedy's capture) of them, and without the constraint
    (min_capture 0) it is the best Sharpe whatever its capture."""
    from regime_trader.policy.backtest import decision_range
    from regime_trader.policy.calibration import fit_rule
    from regime_trader.policy.policy import load_folder
    from regime_trader.policy.prepare import prepare

    policy = load_folder(tiny_run, check_calibration=False)
    cfg = policy.config
    data = prepare(cfg, scaler=policy.scaler, bars_per_year=policy.bars_per_year)
    val = data.split.val
    first, last = decision_range(data.market, cfg.env.window, cfg.env.fill, val.start, val.stop)
    fit = fit_rule(policy.net, data.market, first, last, policy.config, min_gain=-1e9,
                   min_capture=min_capture)  # fmt: skip
    if fit.greedy_capture is None:
        pytest.skip("validation uptrends moved < 1%: no capture to constrain")
    assert fit.capture is not None
    assert fit.capture >= min(min_capture, fit.greedy_capture) - 1e-9
    if min_capture == 0.0:
        assert fit.sharpe == pytest.approx(max(fit.trial_sharpes))
