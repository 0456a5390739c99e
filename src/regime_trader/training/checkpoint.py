"""Run-folder artifacts, written atomically: config, feature spec + scaler, weights, checkpoint.

Weights for inference are `safetensors` (loading never unpickles); the resumable training
checkpoint is a `torch.save` dict loaded with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from regime_trader.config import Config
from regime_trader.errors import ConfigError
from regime_trader.features import Scaler
from regime_trader.utils.io import atomic_write, atomic_write_json, atomic_write_text

CONFIG, FEATURES, WEIGHTS, CHECKPOINT, LOG = (
    "config.yaml",
    "features.json",
    "model.safetensors",
    "checkpoint.pt",
    "train_log.jsonl",
)


def save_run_spec(
    run_dir: Path, cfg: Config, scaler: Scaler, lookback: int, bars_per_year: float
) -> None:
    """Write ``config.yaml`` and ``features.json`` (lookback, scaler, bars per year)."""
    atomic_write_text(run_dir / CONFIG, cfg.to_yaml())
    spec = {"lookback": lookback, "scaler": scaler.to_dict(), "bars_per_year": bars_per_year}
    atomic_write_json(run_dir / FEATURES, spec)


def save_weights(run_dir: Path, net: nn.Module) -> None:
    """Atomically write the network's weights as safetensors."""
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    atomic_write(run_dir / WEIGHTS, lambda p: save_file(state, str(p)))


def save_checkpoint(run_dir: Path, state: dict) -> None:
    """Atomically write a resumable training checkpoint (a torn write never replaces a good one)."""
    atomic_write(run_dir / CHECKPOINT, lambda p: torch.save(state, p))


def load_run(run_dir: str | Path) -> tuple[Config, Scaler, dict[str, torch.Tensor]]:
    """Read a trained run folder: config, scaler and weights. Errors name the missing file."""
    run_dir = Path(run_dir)
    for name in (CONFIG, FEATURES, WEIGHTS):
        if not (run_dir / name).is_file():
            raise ConfigError(
                f"'{run_dir}' is not a trained run folder: '{name}' missing "
                "(run `regime-trader train --out DIR` first)"
            )
    cfg = Config.from_yaml(run_dir / CONFIG)
    spec = json.loads((run_dir / FEATURES).read_text(encoding="utf-8"))
    return cfg, Scaler.from_dict(spec["scaler"]), load_file(str(run_dir / WEIGHTS))


def write_log(run_dir: Path, lines: list[str]) -> None:
    """Rewrite ``train_log.jsonl`` (atomically) with every validation record so far."""
    atomic_write_text(run_dir / LOG, "".join(line + "\n" for line in lines))


def training_state(
    counters: Any, agent: Any, env: Any, buffer: Any, generator: torch.Generator
) -> dict:
    """Everything needed to continue a run exactly (see `restore`), at any loop iteration:
    after a validation or between two (the wall-clock checkpoint)."""
    return {
        "counters": dataclasses.asdict(counters),
        "agent": agent.state_dict(),
        "env": env.state_dict(),
        "replay": buffer.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),  # third-party code drawing from the global RNG
    }


def has_checkpoint(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a training checkpoint to resume from."""
    return (run_dir / CHECKPOINT).is_file()


#: Fields that may differ between a run's config.yaml and the config resuming it.
RESUMABLE_CHANGES = {"train": {"total_steps", "checkpoint_seconds"}}


def check_same_config(run_dir: Path, cfg: Config) -> None:
    """Raise unless ``run_dir/config.yaml`` equals ``cfg`` (up to `RESUMABLE_CHANGES`).

    Raises:
        ConfigError: no config.yaml, or it was written by a different configuration.
    """
    if not (run_dir / CONFIG).is_file():
        raise ConfigError(f"cannot resume '{run_dir}': no {CONFIG} (not a run folder)")
    saved = Config.from_yaml(run_dir / CONFIG)
    if saved.model_dump(exclude=RESUMABLE_CHANGES) != cfg.model_dump(exclude=RESUMABLE_CHANGES):
        raise ConfigError(
            f"cannot resume '{run_dir}': its config.yaml differs from this run's config "
            "(resume with the run's own config; only train.total_steps may change)"
        )


def restore(
    run_dir: Path, cfg: Config, *, agent: Any, env: Any, buffer: Any, generator: torch.Generator
) -> Any:
    """Load ``checkpoint.pt`` into the given objects and return the loop counters.

    Raises:
        ConfigError: no checkpoint, or it was written by a different configuration.
    """
    from regime_trader.training.loop import Counters

    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise ConfigError(
            f"cannot resume '{run_dir}': no {CHECKPOINT} (train it first without --resume)"
        )
    check_same_config(run_dir, cfg)
    state = torch.load(path, map_location="cpu", weights_only=True)  # never unpickles objects
    agent.load_state_dict(state["agent"])
    env.load_state_dict(state["env"])
    buffer.load_state_dict(state["replay"])
    generator.set_state(state["generator"])
    if "torch_rng" in state:  # (checkpoints before it had none)
        torch.set_rng_state(state["torch_rng"])
    return Counters(**state["counters"])
