"""Config: YAML round trip, clear errors naming the field, docs and default file in step."""

from pathlib import Path

import pytest

from regime_trader.config import Config
from regime_trader.config_docs import config_markdown
from regime_trader.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_yaml_round_trip(tmp_path):
    cfg = Config().with_budget("tiny").override(env={"cost_bps": 2.5}, agent={"hidden": [32]})
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert Config.from_yaml(path) == cfg


def test_error_names_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("env:\n  window: -3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: field 'env\.window'"):
        Config.from_yaml(path)


def test_unknown_field_rejected(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("agent:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="agent.learning_rate"):
        Config.from_yaml(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Config.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        Config.from_yaml(bad)


def test_configuration_doc_is_current():
    assert (ROOT / "docs" / "configuration.md").read_text() == config_markdown()


def test_default_yaml_is_current():
    assert Config.from_yaml(ROOT / "configs" / "default.yaml") == Config()
