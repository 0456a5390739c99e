"""Registry: register, promote with evidence, rollback, on MLflow (SQLite) and a local folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regime_trader.errors import ConfigError
from regime_trader.package import load, package_digest
from regime_trader.registry import LocalRegistry, open_registry


def _evidence(tmp_path: Path, champion: Path, challenger: Path, verdict: str) -> Path:
    """An abtest summary in the shape `regime-trader abtest` writes."""
    data = {
        "kind": "abtest",
        "models": [
            {"label": "A", "name": "a", "package_sha256": package_digest(champion)},
            {"label": "B", "name": "b", "package_sha256": package_digest(challenger)},
        ],
        "comparisons": [
            {
                "champion": "A",
                "challenger": "B",
                "verdict": verdict,
                "reason": "test",
                "p_holm": 0.01,
                "n_runs": 20,
            }
        ],
    }
    path = tmp_path / f"abtest-{verdict}.json"
    path.write_text(json.dumps(data))
    return path


def _lifecycle(reg, package_a: Path, package_b: Path, tmp_path: Path) -> None:
    v1 = reg.register(package_a, name="spx")
    v2 = reg.register(package_b, name="spx")
    assert (v1.version, v2.version) == (1, 2)
    assert v2.tags["package_version"] == "1.1.0"
    assert load(reg.resolve("spx", 2)).version == "1.1.0"  # the registry's own copy loads
    with pytest.raises(ConfigError, match="already registered as spx version 1"):
        reg.register(package_a, name="spx")

    reg.promote("spx", 1, reason="first model")
    assert reg.get("spx", "champion").version == 1
    keep = _evidence(tmp_path, package_a, package_b, "keep")
    with pytest.raises(ConfigError, match="verdict for this package is 'keep'"):
        reg.promote("spx", 2, reason="try", evidence=keep)
    with pytest.raises(ConfigError, match="not a challenger"):
        reg.promote("spx", 2, reason="try", evidence=_evidence(tmp_path, package_b, package_a, "x"))
    assert reg.get("spx", "champion").version == 1  # refusals change nothing

    good = _evidence(tmp_path, package_a, package_b, "promote")
    promoted = reg.promote("spx", 2, reason="beats v1 out of sample", evidence=good)
    assert promoted.aliases == ("champion",)
    assert promoted.tags["promoted.champion.reason"] == "beats v1 out of sample"
    assert json.loads(promoted.tags["promoted.champion.evidence"])["verdict"] == "promote"
    assert "promoted.champion.at" in promoted.tags
    with pytest.raises(ConfigError, match="already 'champion'"):
        reg.promote("spx", 2, reason="again")

    back = reg.rollback("spx", reason="live drawdown")
    assert back.version == 1 and reg.get("spx", "champion").version == 1
    assert "rolled_back.champion.at" in reg.get("spx", 2).tags
    actions = [(e["action"], e["version"]) for e in reg.history("spx")]
    assert actions == [("promote", 1), ("promote", 2), ("rollback", 1)]
    with pytest.raises(ConfigError, match="no previous version"):
        reg.rollback("spx")
    rows = [v.row() for v in reg.list()]
    assert [(r["version"], r["aliases"]) for r in rows] == [(1, "champion"), (2, "")]


def test_local_registry_lifecycle(package_a, package_b, tmp_path) -> None:
    reg = open_registry(tmp_path / "reg", backend="local")
    assert isinstance(reg, LocalRegistry)
    _lifecycle(reg, package_a, package_b, tmp_path)
    assert open_registry(tmp_path / "reg").backend == "local"  # auto keeps a local registry


@pytest.mark.slow  # MLflow creates its SQLite schema: ~10-30 s on two busy cores
def test_mlflow_registry_lifecycle(package_a, package_b, tmp_path, capfd) -> None:
    pytest.importorskip("mlflow")
    reg = open_registry(tmp_path / "reg", backend="mlflow")
    assert reg.backend == "mlflow" and (tmp_path / "reg" / "mlflow.db").is_file()
    _lifecycle(reg, package_a, package_b, tmp_path)
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'reg' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert client.get_model_version_by_alias("spx", "champion").version in (1, "1")
    assert "INFO" not in capfd.readouterr().err


def test_unknown_model_and_tampered_package(package_a, tmp_path) -> None:
    import shutil

    reg = open_registry(tmp_path / "reg", backend="local")
    with pytest.raises(ConfigError, match="no model named 'nope'"):
        reg.rollback("nope")
    bad = Path(shutil.copytree(package_a, tmp_path / "bad"))
    (bad / "metrics.json").write_text("{}")
    with pytest.raises(ConfigError, match="metrics.json"):
        reg.register(bad)
    assert reg.list() == []
    with pytest.raises(ConfigError, match="model name"):
        reg.register(package_a, name="bad name!")
