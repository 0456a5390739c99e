"""Model packages: contents, round trip to the backtest's decisions, integrity refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import regime_trader
from regime_trader.errors import ConfigError
from regime_trader.package import DECISION_COLUMNS, build_package, load, verify
from regime_trader.package import build as build_mod
from regime_trader.package import manifest as mf
from regime_trader.policy.backtest import backtest_net, decision_range
from regime_trader.policy.calibration import Calibration, save_calibration, weights_digest
from regime_trader.policy.rule import DecisionRule

RULE = DecisionRule(base=(0.0, 0.02, 0.01), boost=0.3, sizing="confidence")


def _copy(pkg: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pkg, tmp_path / "copy"))


def _backtest_positions(pkg, bars):
    data = pkg.prepare(bars)
    env = pkg.config.env
    first, last = decision_range(data.market, env.window, env.fill, 0, len(data.market))
    return backtest_net(pkg.net, data.market, first, last, env, pkg.rule)


def test_package_holds_every_file_and_metadata(package_a: Path) -> None:
    names = {p.name for p in package_a.iterdir()}
    assert set(mf.REQUIRED) | {mf.MANIFEST} <= names
    assert not any(n.endswith((".pt", ".pkl", ".pickle")) for n in names)
    meta = json.loads((package_a / mf.METADATA).read_text())
    assert meta["version"] == "1.0.0" and meta["format_version"] == mf.FORMAT_VERSION
    assert len(meta["data"]["train"]["sha256"]) == 64
    assert meta["features"]["lookback"] > 0 and meta["features"]["count"] == 13
    assert abs(sum(meta["data"]["regime_shares"]["train"].values()) - 1.0) < 1e-9
    assert meta["metrics"]["validation"]["best_sharpe"] is not None
    assert meta["metrics"]["test"]["strategy"]["sharpe"] is not None
    ci = meta["metrics"]["test_ci"]["sharpe"]
    assert ci["low"] <= ci["estimate"] <= ci["high"]
    assert meta["signature"]["outputs"]["decide"] == list(DECISION_COLUMNS)
    card = (package_a / mf.MODEL_CARD).read_text()
    for heading in ("## Inputs", "## Outputs", "## Intended use", "## Limits", "## Evaluation"):
        assert heading in card
    assert f"{meta['parameters']:,} parameters" in card and "95% CI" in card


def test_fingerprint_changes_with_one_price(bars) -> None:
    from regime_trader.package.metadata import frame_fingerprint

    other = bars.copy()
    other.iloc[5, 3] *= 1.0000001
    assert frame_fingerprint(bars) == frame_fingerprint(bars.copy())
    assert frame_fingerprint(bars) != frame_fingerprint(other)


def test_decide_equals_the_backtest(package_a: Path, bars) -> None:
    pkg = regime_trader.load(package_a)
    decisions = pkg.decide(bars)
    assert list(decisions.columns) == list(DECISION_COLUMNS)
    result = _backtest_positions(pkg, bars)
    common = decisions.loc[result.index]
    np.testing.assert_array_equal(common["position"].to_numpy(), result.positions)
    np.testing.assert_array_equal(common["action"].to_numpy(), result.actions)
    assert decisions.index[-1] == bars.index[-1]  # a decision for the next, unseen bar
    assert pkg.decision_rule().is_identity


def test_decide_equals_the_user_backtest(run_a, package_a, bars, bars_csv, tmp_path) -> None:
    """Positions of `regime-trader backtest` on the same bars (equity.csv) equal `decide`."""
    import pandas as pd

    from regime_trader.api import backtest_run

    backtest_run(run_a, str(bars_csv), tmp_path / "bt", device="cpu")
    equity = pd.read_csv(tmp_path / "bt" / "equity.csv", index_col=0, parse_dates=True)
    equity = equity.dropna(subset=["position"])  # the last row only ends the last step
    decisions = load(package_a).decide(bars)
    assert len(equity) > 500 and set(equity.index) <= set(decisions.index)
    np.testing.assert_array_equal(
        decisions.loc[equity.index, "position"].to_numpy(), equity["position"].to_numpy()
    )


def test_calibration_travels_with_the_package(run_a: Path, bars, tmp_path: Path) -> None:
    run = Path(shutil.copytree(run_a, tmp_path / "run"))
    save_calibration(run, _calibration(run, RULE))  # the run's own record, digest included
    pkg = load(build_package(run, tmp_path / "pkg"))
    assert pkg.rule == RULE and (tmp_path / "pkg" / mf.CALIBRATION).is_file()
    result = _backtest_positions(pkg, bars)
    got = pkg.decide(bars).loc[result.index, "position"].to_numpy()
    np.testing.assert_array_equal(got, result.positions)
    assert set(np.unique(np.abs(got))) - {0.0, 1.0}, "confidence sizing gives fractional sizes"


def test_tampered_weight_byte_is_refused(package_a: Path, tmp_path: Path) -> None:
    pkg = _copy(package_a, tmp_path)
    raw = bytearray((pkg / mf.WEIGHTS).read_bytes())
    raw[-1] ^= 0x01
    (pkg / mf.WEIGHTS).write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match="model.safetensors.*sha256"):
        load(pkg)


def test_truncated_file_is_refused(package_a: Path, tmp_path: Path) -> None:
    pkg = _copy(package_a, tmp_path)
    data = (pkg / mf.FEATURES).read_bytes()
    (pkg / mf.FEATURES).write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="tampered or truncated"):
        load(pkg)


def test_missing_manifest_entry_is_refused(package_a: Path, tmp_path: Path) -> None:
    pkg = _copy(package_a, tmp_path)
    manifest = json.loads((pkg / mf.MANIFEST).read_text())
    del manifest["files"][mf.CONFIG]
    (pkg / mf.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="no entry for required file 'config.json'"):
        load(pkg)


def test_missing_file_and_extra_file_are_refused(package_a: Path, tmp_path: Path) -> None:
    pkg = _copy(package_a, tmp_path)
    (pkg / "evil.json").write_text("{}")
    with pytest.raises(ConfigError, match="'evil.json' is not in the manifest"):
        verify(pkg)
    (pkg / "evil.json").unlink()
    (pkg / mf.MODEL_CARD).unlink()
    with pytest.raises(ConfigError, match="MODEL_CARD.md' is listed in the manifest but missing"):
        verify(pkg)


@pytest.mark.parametrize(("version", "ok"), [("2.0", False), ("0.9", False), ("1.7", True)])
def test_format_major_version_is_checked(package_a, tmp_path, version, ok) -> None:
    pkg = _copy(package_a, tmp_path)
    manifest = json.loads((pkg / mf.MANIFEST).read_text())
    manifest["format_version"] = version
    (pkg / mf.MANIFEST).write_text(json.dumps(manifest))
    if ok:
        assert load(pkg).version == "1.0.0"
    else:
        with pytest.raises(ConfigError, match=f"package format {version} cannot be read"):
            load(pkg)


def test_failure_mid_write_leaves_nothing(run_a: Path, tmp_path: Path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_mod, "render", boom)  # after the weights and config are written
    with pytest.raises(RuntimeError, match="disk full"):
        build_package(run_a, tmp_path / "pkg")
    assert list(tmp_path.iterdir()) == []


def test_failed_replace_keeps_the_old_package(run_a, package_a, tmp_path, monkeypatch) -> None:
    target = _copy(package_a, tmp_path)
    before = (target / mf.MANIFEST).read_bytes()
    monkeypatch.setattr(build_mod, "render", lambda *a: (_ for _ in ()).throw(OSError("x")))
    with pytest.raises(OSError):
        build_package(run_a, target, force=True)
    assert (target / mf.MANIFEST).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]


def test_bad_input_is_refused(run_a: Path, package_a: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        build_package(run_a, package_a)
    with pytest.raises(ConfigError, match="semantic version"):
        build_package(run_a, tmp_path / "p", version="v1")
    with pytest.raises(ConfigError, match="not a trained run folder"):
        build_package(tmp_path, tmp_path / "p")
    with pytest.raises(ConfigError, match="no manifest.json"):
        load(tmp_path)


def test_import_stays_light_and_short_bars_are_refused(package_a: Path, bars) -> None:
    import subprocess
    import sys

    code = "import regime_trader, sys; assert 'torch' not in sys.modules; regime_trader.load"
    subprocess.run([sys.executable, "-c", code], check=True)
    from regime_trader.errors import DataError

    with pytest.raises(DataError, match="too few to backtest"):
        load(package_a).decide(bars.iloc[:30])


def _calibration(run: Path, rule: DecisionRule) -> Calibration:
    period = {"start": "2000-01-01", "end": "2000-12-31"}
    return Calibration(rule, 0.0, 0.1, 1.0, weights_digest(run), period, (0.0, 0.1))
