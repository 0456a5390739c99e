"""Search spaces: the plan's ``param_grid`` in our config's dotted names, for Optuna and Ray.

Plan key (Phase 3, "Hyperparameter Optimization") -> config field:

==========================  =====================================  =====================
plan                        config field                           values
==========================  =====================================  =====================
learning_rate               agent.lr                               1e-4, 5e-4, 1e-3
gamma                       agent.gamma                            0.95, 0.97, 0.99
buffer_size                 agent.buffer_size                      10k, 50k, 100k
batch_size                  agent.batch_size                       32, 64, 128
update_frequency            agent.train_freq                       1, 4, 8
tau                         agent.tau (soft target update)         0.001, 0.005, 0.01
alpha                       replay.alpha                           0.4, 0.6, 0.8
beta_start                  replay.beta_start                      0.4, 0.5, 0.6
uptrend_reward_scale        reward.uptrend_scale                   1.0, 1.5, 2.0
downtrend_reward_scale      reward.downtrend_negative_scale        0.5, 0.8, 1.0
==========================  =====================================  =====================

No plan key is skipped. ``downtrend_reward_scale`` maps to the scale of downtrend *losses*
(the plan's "less penalty for expected losses", default 0.75), the only downtrend multiplier
whose plan values lie below one. `active_space` drops the keys that cannot change a run:
``replay.*`` with ``replay.kind: uniform`` and ``reward.*`` with ``reward.kind: pnl``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from regime_trader.config import Config
from regime_trader.errors import ConfigError

PLAN_KEYS: dict[str, str] = {
    "learning_rate": "agent.lr",
    "gamma": "agent.gamma",
    "buffer_size": "agent.buffer_size",
    "batch_size": "agent.batch_size",
    "update_frequency": "agent.train_freq",
    "tau": "agent.tau",
    "alpha": "replay.alpha",
    "beta_start": "replay.beta_start",
    "uptrend_reward_scale": "reward.uptrend_scale",
    "downtrend_reward_scale": "reward.downtrend_negative_scale",
}

PLAN_GRID: dict[str, list[Any]] = {
    "agent.lr": [0.0001, 0.0005, 0.001],
    "agent.gamma": [0.95, 0.97, 0.99],
    "agent.buffer_size": [10_000, 50_000, 100_000],
    "agent.batch_size": [32, 64, 128],
    "agent.train_freq": [1, 4, 8],
    "agent.tau": [0.001, 0.005, 0.01],
    "replay.alpha": [0.4, 0.6, 0.8],
    "replay.beta_start": [0.4, 0.5, 0.6],
    "reward.uptrend_scale": [1.0, 1.5, 2.0],
    "reward.downtrend_negative_scale": [0.5, 0.8, 1.0],
}


@dataclass(frozen=True)
class Dim:
    """One dimension of a continuous search space.

    Attributes:
        kind: ``float`` or ``int`` (a range) or ``choice`` (one of ``choices``).
        low: lower bound of a range.
        high: upper bound of a range (inclusive).
        log: sample a range on a log scale.
        choices: the values of a ``choice``.
    """

    kind: Literal["float", "int", "choice"]
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()


# The ranges span the plan's grid values (Optuna and Ray sample inside them).
SEARCH_SPACE: dict[str, Dim] = {
    "agent.lr": Dim("float", 1e-4, 1e-3, log=True),
    "agent.gamma": Dim("float", 0.95, 0.99),
    "agent.buffer_size": Dim("choice", choices=(10_000, 50_000, 100_000)),
    "agent.batch_size": Dim("choice", choices=(32, 64, 128)),
    "agent.train_freq": Dim("choice", choices=(1, 4, 8)),
    "agent.tau": Dim("float", 1e-3, 1e-2, log=True),
    "replay.alpha": Dim("float", 0.4, 0.8),
    "replay.beta_start": Dim("float", 0.4, 0.6),
    "reward.uptrend_scale": Dim("float", 1.0, 2.0),
    "reward.downtrend_negative_scale": Dim("float", 0.5, 1.0),
}

# Sections that only matter under some settings: (section, field, value that makes them inert).
_INERT = (("replay", "kind", "uniform"), ("reward", "kind", "pnl"))

# Settings `prepare` reads: trials that change them need their own prepared data.
DATA_KEYS = ("data", "features", "regimes", "env.window", "env.fill")


def _split(name: str) -> tuple[str, str]:
    section, _, field = name.partition(".")
    if not field or "." in field or section not in Config.model_fields:
        raise ConfigError(f"parameter '{name}': expected 'section.field', e.g. 'agent.lr'")
    return section, field


def apply_params(cfg: Config, params: Mapping[str, Any]) -> Config:
    """A copy of ``cfg`` with dotted ``section.field`` values replaced.

    Examples:
        >>> apply_params(Config(), {"agent.lr": 0.001, "env.window": 10}).agent.lr
        0.001

    Raises:
        ConfigError: an unknown section or field, or a value the field rejects.
    """
    sections: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        section, field = _split(name)
        sections.setdefault(section, {})[field] = value
    return cfg.override(**sections) if sections else cfg


def active_space(cfg: Config, space: Mapping[str, Any]) -> dict[str, Any]:
    """``space`` without the keys of sections that ``cfg`` leaves inert (see module doc)."""
    inert = {sec for sec, field, value in _INERT if getattr(getattr(cfg, sec), field) == value}
    return {k: v for k, v in space.items() if _split(k)[0] not in inert}


def grid_combinations(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """All combinations of a grid in ``itertools.product`` order (the plan's order)."""
    for name, values in grid.items():
        _split(name)
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"grid parameter '{name}': expected a non-empty list of values")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def data_key(cfg: Config) -> str:
    """The settings `prepare` depends on, as a string (equal keys share prepared data)."""
    parts = []
    for name in DATA_KEYS:
        section, _, field = name.partition(".")
        value = getattr(cfg, section)
        parts.append(repr(getattr(value, field) if field else value))
    return "|".join(parts)


def suggest_optuna(trial: Any, space: Mapping[str, Dim]) -> dict[str, Any]:
    """Sample one point of ``space`` from an ``optuna.Trial``."""
    params: dict[str, Any] = {}
    for name, dim in space.items():
        if dim.kind == "choice":
            params[name] = trial.suggest_categorical(name, list(dim.choices))
        elif dim.kind == "int":
            params[name] = trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)
        else:
            params[name] = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    return params


def ray_space(space: Mapping[str, Dim]) -> dict[str, Any]:
    """``space`` as Ray Tune sampling domains (``ray.tune`` is imported here)."""
    from ray import tune  # type: ignore[import-untyped]

    out: dict[str, Any] = {}
    for name, dim in space.items():
        if dim.kind == "choice":
            out[name] = tune.choice(list(dim.choices))
        elif dim.kind == "int":
            sample = tune.lograndint if dim.log else tune.randint
            out[name] = sample(int(dim.low), int(dim.high) + 1)  # Ray's upper bound is exclusive
        else:
            out[name] = (tune.loguniform if dim.log else tune.uniform)(dim.low, dim.high)
    return out
