"""`build_package(run_dir, out)`: a run folder -> a self-describing, verified model package.

The package is written into a temporary folder next to ``out``, verified by loading it, and
only then renamed to ``out``: a failure at any point leaves no package (and no temporary
folder) behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from regime_trader.config import Config
from regime_trader.data.split_report import load_split
from regime_trader.errors import ConfigError
from regime_trader.package import manifest as mf
from regime_trader.package import metadata as md
from regime_trader.package.loader import load
from regime_trader.package.model_card import parameter_count, render
from regime_trader.package.signing import sign_package
from regime_trader.policy.policy import Policy, load_folder
from regime_trader.utils.io import atomic_write_json, atomic_write_text

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.-]+)?$")


def check_version(version: str) -> str:
    """``version`` if it is a semantic version ``MAJOR.MINOR.PATCH[-pre][+build]``."""
    if not SEMVER.match(version):
        raise ConfigError(f"--version must be a semantic version like 1.2.0, got '{version}'")
    return version


def _training(cfg: Config) -> dict[str, Any]:
    return {
        "net": cfg.agent.net,
        "total_steps": cfg.train.total_steps,
        "seed": cfg.train.seed,
        "reward": cfg.reward.kind,
        "cost_bps": cfg.env.cost_bps,
        "fill": cfg.env.fill,
        "allow_short": cfg.env.allow_short,
        "window": cfg.env.window,
        "config": cfg.model_dump(mode="json"),
    }


def package_metadata(
    model: Policy, run_dir: Path, *, name: str, version: str, metrics: dict[str, Any]
) -> dict[str, Any]:
    """Everything ``metadata.json`` records about a packaged run."""
    cfg = model.config
    return {
        "name": name,
        "version": version,
        "format_version": mf.FORMAT_VERSION,
        "created": md.now_iso(),
        "environment": md.environment(),
        "git": md.git_commit(),
        "run": {"folder": str(run_dir.resolve()), "name": run_dir.name},
        "data": md.data_summary(cfg, load_split(run_dir)),
        "split": load_split(run_dir),
        "training": _training(cfg),
        "metrics": metrics,
        "features": {
            "names": model.feature_names,
            "count": len(model.feature_names),
            "lookback": model.lookback,
        },
        "signature": md.signature(cfg, model.feature_names, model.lookback),
        "parameters": parameter_count(model.net),
        "calibrated": model.calibration is not None,
    }


def _write_files(tmp: Path, model: Policy, run_dir: Path, meta: dict[str, Any]) -> None:
    shutil.copyfile(run_dir / mf.WEIGHTS, tmp / mf.WEIGHTS)
    atomic_write_json(tmp / mf.CONFIG, model.config.model_dump(mode="json"))
    features = {
        "lookback": model.lookback,
        "scaler": model.scaler.to_dict(),
        "bars_per_year": model.bars_per_year,
    }
    atomic_write_json(tmp / mf.FEATURES, features)
    if model.calibration is not None:  # the run's record, byte for byte (digest included)
        shutil.copyfile(run_dir / mf.CALIBRATION, tmp / mf.CALIBRATION)
    atomic_write_json(tmp / mf.METRICS, meta["metrics"])
    atomic_write_json(tmp / mf.METADATA, meta)
    atomic_write_text(tmp / mf.MODEL_CARD, render(meta, model.net, model.rule))
    atomic_write_json(tmp / mf.MANIFEST, mf.build_manifest(tmp))


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``, removed unless it was renamed into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp creates 0700; packages are meant to be shared
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_dir(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an old ``out`` is moved aside first and deleted after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_package(
    run_dir: str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    version: str = "1.0.0",
    force: bool = False,
    sign_with: str | Path | None = None,
) -> Path:
    """Package a trained run folder into ``out`` (a folder; see docs/lifecycle.md).

    Args:
        run_dir: a run folder written by `regime-trader train`.
        out: the package folder to create.
        name: model name (default: the run folder's name).
        version: semantic version of this model.
        force: replace a package already at ``out``.
        sign_with: an Ed25519 private key (PEM, `signing.generate_keypair`): the manifest is
            signed, and `load` checks the signature when a public key is configured.

    Raises:
        ConfigError: not a run folder, bad version, ``out`` exists without ``force``.
    """
    run_dir, out = Path(run_dir), Path(out)
    check_version(version)
    if out.exists() and not force:
        raise ConfigError(f"'{out}' already exists; pass --force to replace it")
    if out.exists() and not (out / mf.MANIFEST).is_file():
        raise ConfigError(f"'{out}' exists and is not a model package; refusing to replace it")
    model = load_folder(run_dir, device="cpu")
    metrics = md.run_metrics(run_dir)
    metrics["test_ci"] = md.test_sharpe_cis(run_dir, metrics["test_folder"])
    meta = package_metadata(
        model, run_dir, name=name or run_dir.name, version=version, metrics=metrics
    )
    with _staging(out) as tmp:
        _write_files(tmp, model, run_dir, meta)
        if sign_with is not None:
            sign_package(tmp, sign_with)
            load(tmp)  # every hash, the signature (when a key is configured), the weights
        else:  # unsigned: check everything but a signature a configured key would demand
            mf.verify_package(tmp, signature=False)
        _replace_dir(tmp, out)
    return out
