"""The tiny training config of the evaluation tests."""

from __future__ import annotations

from pathlib import Path

from regime_trader.config import Config

TINY = {
    "data": {"train_end": None, "val_end": None},
    "env": {"window": 10},
    "agent": {"hidden": [32, 32], "learning_starts": 500, "batch_size": 32},
    "train": {"total_steps": 3000, "eval_every": 1500, "n_envs": 8, "seed": 0},
    "tracking": {"backend": "none"},
}


def tiny_config(source: Path, **sections: dict) -> Config:
    """TINY with ``data.source`` and extra section fields."""
    raw = {k: dict(v) for k, v in TINY.items()}
    raw["data"]["source"] = str(source)
    for name, fields in sections.items():
        raw[name] = {**raw.get(name, {}), **fields}
    return Config.from_dict(raw)
