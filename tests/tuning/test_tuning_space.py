"""The plan's grid in config names, `apply_params`, search spaces for Optuna and Ray."""

from __future__ import annotations

import pytest

from regime_trader.config import Config
from regime_trader.errors import ConfigError
from regime_trader.tuning.space import (
    PLAN_GRID,
    PLAN_KEYS,
    SEARCH_SPACE,
    active_space,
    apply_params,
    data_key,
    grid_combinations,
    ray_space,
    suggest_optuna,
)


def test_every_plan_key_maps_to_a_config_field_with_the_plan_values():
    assert len(PLAN_KEYS) == 10
    assert set(PLAN_KEYS.values()) == set(PLAN_GRID) == set(SEARCH_SPACE)
    assert PLAN_GRID["agent.lr"] == [0.0001, 0.0005, 0.001]
    cfg = Config()
    for name, values in PLAN_GRID.items():
        for value in values:  # every plan value is valid for its field
            section, field = name.split(".")
            assert getattr(getattr(apply_params(cfg, {name: value}), section), field) == value


def test_apply_params_uses_dotted_names():
    cfg = apply_params(Config(), {"agent.lr": 0.001, "env.window": 12, "agent.hidden": [8]})
    assert (cfg.agent.lr, cfg.env.window, cfg.agent.hidden) == (0.001, 12, (8,))
    assert apply_params(cfg, {}) is cfg


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"lr": 0.1}, "section.field"),
        ({"nope.lr": 0.1}, "section.field"),
        ({"agent.nope": 1}, "agent.nope"),
        ({"agent.gamma": 2.0}, "agent.gamma"),
        ({"agent.lr.x": 1}, "section.field"),
    ],
)
def test_apply_params_rejects_unknown_or_invalid(params, match):
    with pytest.raises(ConfigError, match=match):
        apply_params(Config(), params)


def test_active_space_drops_inert_sections():
    assert set(active_space(Config(), PLAN_GRID)) == {
        k for k in PLAN_GRID if k.startswith("agent.")
    }
    cfg = Config().override(replay={"kind": "prioritized"}, reward={"kind": "regime"})
    assert active_space(cfg, PLAN_GRID) == PLAN_GRID
    assert len(grid_combinations(active_space(Config(), PLAN_GRID))) == 3**6


def test_grid_combinations_in_product_order():
    combos = grid_combinations({"agent.lr": [1, 2], "agent.gamma": [0.9, 0.99]})
    assert combos[:2] == [{"agent.lr": 1, "agent.gamma": 0.9}, {"agent.lr": 1, "agent.gamma": 0.99}]
    assert len(combos) == 4
    with pytest.raises(ConfigError, match="non-empty list"):
        grid_combinations({"agent.lr": []})


def test_data_key_changes_only_with_data_settings():
    cfg = Config()
    assert data_key(cfg) == data_key(apply_params(cfg, {"agent.lr": 0.001}))
    assert data_key(cfg) != data_key(apply_params(cfg, {"env.window": 10}))
    assert data_key(cfg) != data_key(apply_params(cfg, {"features.rsi_period": 7}))


def test_optuna_suggestions_stay_inside_the_space():
    optuna = pytest.importorskip("optuna")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        params = suggest_optuna(study.ask(), SEARCH_SPACE)
        assert 1e-4 <= params["agent.lr"] <= 1e-3
        assert params["agent.batch_size"] in (32, 64, 128)
        apply_params(Config(), params)  # valid config


def test_ray_space_has_one_domain_per_parameter():
    pytest.importorskip("ray.tune")
    from ray.tune.search.sample import Categorical, Float

    space = ray_space(SEARCH_SPACE)
    assert set(space) == set(SEARCH_SPACE)
    assert isinstance(space["agent.lr"], Float)
    assert isinstance(space["agent.train_freq"], Categorical)
