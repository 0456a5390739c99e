"""Uptrend fine-tuning: continue a trained run with uptrend-weighted replay, keep it only if
validation improves (plan week 8, issue 11 item 4; docs/finetune.md).

`finetune_uptrend(run_dir)` reads the run, continues training from its best weights with
`train` (fresh replay filled by the continued policy, the run's seed, a lower learning rate,
``replay.kind = "regime"`` with the uptrend quota raised), and compares the best validation
Sharpe of the continued training with the original weights' validation Sharpe, both measured
by `training.loop.validate` on the same validation bars. The output folder is a full run
folder either way; it holds the fine-tuned weights only when they validate better.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from regime_trader.agents import DQNAgent
from regime_trader.config import Config
from regime_trader.errors import ConfigError
from regime_trader.features import Scaler
from regime_trader.nets import build_net
from regime_trader.policy.prepare import Prepared, prepare
from regime_trader.regimes import UPTREND
from regime_trader.training import checkpoint as ckpt
from regime_trader.training.loop import TrainResult, train, validate
from regime_trader.utils.device import resolve_device
from regime_trader.utils.io import atomic_write, atomic_write_json
from regime_trader.utils.threads import compute_threads, seeded

#: Written last into the output folder: its presence marks a finished fine-tuning.
FINETUNE_FILE = "finetune.json"
#: Default output folder inside the run folder.
DEFAULT_SUBDIR = "finetuned"


@dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tuning reports (the same numbers as ``finetune.json``).

    Attributes:
        run_dir: the output run folder (loadable with `regime_trader.api.load_folder`).
        kept: the fine-tuned weights validated better and are in ``run_dir``; False: the
            folder holds the original run's weights.
        val_sharpe_before: validation Sharpe of the original run's best weights.
        val_sharpe_after: best validation Sharpe of the continued training.
        steps: env steps of the continued training.
        uptrend_quota: share of each replay batch drawn from uptrend transitions.
        seconds: wall-clock time of the whole call.
        train: the continued training's `TrainResult`.
    """

    run_dir: Path
    kept: bool
    val_sharpe_before: float
    val_sharpe_after: float
    steps: int
    uptrend_quota: float
    seconds: float
    train: TrainResult


def finetune_config(
    cfg: Config, *, steps: int, uptrend_quota: float = 0.5, lr_scale: float = 0.3
) -> Config:
    """The run's config changed for a short uptrend-weighted continuation.

    * ``replay.kind = "regime"``; the uptrend quota is ``uptrend_quota`` and the other three
      regimes share the rest in proportion to the run's own quotas (equally if those are 0);
      ``replay.alpha = 0`` (uniform within each regime) when the run used uniform replay, so
      the regime weighting is the only change to what is replayed;
    * ``agent.lr`` times ``lr_scale``; epsilon constant at the run's ``eps_end`` (the policy
      is already trained: no random warm-up); ``learning_starts`` at most ``steps // 4``;
    * ``train.total_steps = steps``, validation at least 4 times (``eval_every`` at most
      ``steps // 4``); the curriculum off (training bars of the real series only).

    Raises:
        ConfigError: ``steps < 1``, ``uptrend_quota`` outside (0, 1] or ``lr_scale <= 0``.
    """
    if steps < 1:
        raise ConfigError(f"finetune: steps must be >= 1, got {steps}")
    if not 0 < uptrend_quota <= 1:
        raise ConfigError(f"finetune: uptrend_quota must be in (0, 1], got {uptrend_quota}")
    if not lr_scale > 0:
        raise ConfigError(f"finetune: lr_scale must be > 0, got {lr_scale}")
    ac, rc = cfg.agent, cfg.replay
    others = [q for i, q in enumerate(rc.regime_quotas) if i != UPTREND]
    total = sum(others)
    rest = [(1 - uptrend_quota) * (q / total if total > 0 else 1 / len(others)) for q in others]
    quotas = [*rest[:UPTREND], uptrend_quota, *rest[UPTREND:]]
    return cfg.override(
        agent={
            "lr": ac.lr * lr_scale,
            "eps_start": ac.eps_end,
            "learning_starts": min(ac.learning_starts, steps // 4),
        },
        replay={
            "kind": "regime",
            "regime_quotas": quotas,
            "alpha": 0.0 if rc.kind == "uniform" else rc.alpha,
        },
        curriculum={"enabled": False},
        train={"total_steps": steps, "eval_every": min(cfg.train.eval_every, max(steps // 4, 1))},
    )


def val_sharpe(cfg: Config, weights: Mapping[str, torch.Tensor], data: Prepared) -> float:
    """Validation Sharpe of ``weights``, measured as `train` measures it (`loop.validate`)."""
    device = data.market.device
    net = build_net(cfg.agent, cfg.env.window, data.market.n_features).to(device)
    net.load_state_dict(weights)
    return float(validate(DQNAgent(net, cfg.agent), data, cfg)["sharpe"])


def finetune_uptrend(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    steps: int,
    uptrend_quota: float = 0.5,
    lr_scale: float = 0.3,
    data: Prepared | None = None,
    progress: bool = False,
    force: bool = False,
) -> FinetuneResult:
    """Continue a trained run with uptrend-weighted replay; keep it only if validation improves.

    Training uses the run's training bars only, the keep-or-drop decision its validation
    bars only; test bars are never read by either (the run's own split).

    Args:
        run_dir: a trained run folder (``config.yaml``, ``features.json``,
            ``model.safetensors``).
        out_dir: the output run folder (default ``run_dir/finetuned``).
        steps: env steps of the continued training.
        uptrend_quota: share of each replay batch drawn from uptrend transitions.
        lr_scale: the continued training's learning rate as a multiple of the run's.
        data: the run's prepared series (default: ``prepare`` of the run's data source with
            the run's scaler); its scaler must equal the run's.
        progress: show the training progress bar.
        force: overwrite ``out_dir`` if it already holds a run.

    Returns:
        The decision and both validation Sharpes (also in ``out_dir/finetune.json``).

    Raises:
        ConfigError: ``run_dir`` is not a trained run folder; ``out_dir`` holds a run (and not
            ``force``); ``data`` was scaled differently from the run; bad options.

    Examples:
        >>> res = finetune_uptrend("runs/demo", steps=20_000)  # doctest: +SKIP
        >>> res.kept, res.val_sharpe_before, res.val_sharpe_after  # doctest: +SKIP
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    cfg, scaler, weights = ckpt.load_run(run_dir)
    ft_cfg = finetune_config(cfg, steps=steps, uptrend_quota=uptrend_quota, lr_scale=lr_scale)
    out = Path(out_dir) if out_dir is not None else run_dir / DEFAULT_SUBDIR
    if out.resolve() == run_dir.resolve():
        raise ConfigError(f"finetune: out_dir '{out}' is the run itself; give another folder")
    with compute_threads(cfg.train.threads), seeded(cfg.train.seed):
        data = _run_data(cfg, scaler, data, run_dir)
        before = val_sharpe(cfg, weights, data)
        result = train(ft_cfg, out, data=data, progress=progress, force=force, init_weights=weights)
        after = val_sharpe(ft_cfg, ckpt.load_run(out)[2], data)
    kept = after > before  # NaN on either side: not kept
    if not kept:  # the folder keeps the original weights, byte for byte
        _copy_atomically(run_dir / ckpt.WEIGHTS, out / ckpt.WEIGHTS)
    res = FinetuneResult(
        out, kept, before, after, steps, uptrend_quota, time.perf_counter() - started, result
    )
    atomic_write_json(out / FINETUNE_FILE, _record(res, run_dir, lr_scale))
    return res


def _run_data(cfg: Config, scaler: Scaler, data: Prepared | None, run_dir: Path) -> Prepared:
    """The run's series with the run's scaler: prepared here, or checked when given."""
    if data is None:
        return prepare(cfg, scaler=scaler, device=resolve_device(cfg.train.device))
    same = list(data.scaler.names) == list(scaler.names) and all(
        np.allclose(a, b, rtol=1e-9, atol=1e-12)
        for a, b in ((data.scaler.mean, scaler.mean), (data.scaler.std, scaler.std))
    )
    if not same:
        raise ConfigError(
            f"finetune: the given data was scaled differently from the run '{run_dir}' "
            "(other features or training bars); pass data prepared with the run's config"
        )
    return data


def _copy_atomically(src: Path, dst: Path) -> None:
    def write(tmp: Path) -> None:
        shutil.copyfile(src, tmp)

    atomic_write(dst, write)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _record(res: FinetuneResult, source: Path, lr_scale: float) -> dict:
    """``finetune.json``: the decision, both validation Sharpes and the settings."""
    return {
        "kept": res.kept,
        "val_sharpe_before": _finite(res.val_sharpe_before),
        "val_sharpe_after": _finite(res.val_sharpe_after),
        "steps": res.steps,
        "uptrend_quota": res.uptrend_quota,
        "lr_scale": lr_scale,
        "source_run": str(source),
        "seconds": round(res.seconds, 3),
    }
