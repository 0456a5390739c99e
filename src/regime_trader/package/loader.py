"""`load(path) -> ModelPackage`: a verified package whose `decide(bars)` equals the backtest.

Nothing is unpickled: weights are safetensors, everything else JSON. Every file's sha256 is
checked against the manifest before any of it is read (`manifest.verify`); the `Policy` is
then read by `policy.load_folder`, the same reader as a run folder's (``calibration.json``
checked against the weights' sha256 there too).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from regime_trader.errors import ConfigError
from regime_trader.package import manifest as mf
from regime_trader.policy.policy import DECISION_COLUMNS, Policy, load_folder

ModelPackage = Policy
"""A loaded package is a `Policy` with its ``metadata.json`` (name, version, metrics, ...)."""

__all__ = ["DECISION_COLUMNS", "ModelPackage", "load", "load_model"]


def load(
    path: str | Path, device: str | torch.device = "cpu", public_key: str | Path | None = None
) -> Policy:
    """Load a model package written by `regime-trader package` (every hash checked).

    Args:
        path: the package folder.
        device: ``"cpu"``, ``"cuda[:N]"`` or ``"auto"``.
        public_key: an Ed25519 public key (PEM) the manifest's signature must verify with;
            None: ``$REGIME_TRADER_PUBLIC_KEY`` when set, else no signature check.

    Raises:
        ConfigError: one line on a tampered, truncated, incomplete or incompatible package.

    Examples:
        >>> import regime_trader
        >>> pkg = regime_trader.load("models/spx-mlp")  # doctest: +SKIP
        >>> pkg.decide(bars).tail(1)  # doctest: +SKIP
    """
    folder = Path(path)
    checked = mf.verify_package(folder, public_key, read=True)  # links, hashes, signature
    meta = json.loads(checked.files[mf.METADATA].decode("utf-8"))
    policy = load_folder(folder, device, metadata=meta, verified=checked.files)
    if meta.get("calibrated") and policy.calibration is None:
        raise ConfigError(
            f"{folder}: metadata.json says calibrated but there is no {mf.CALIBRATION}; "
            "re-package the run"
        )
    return policy


def load_model(path: str | Path, device: str | torch.device = "cpu") -> Policy:
    """A package folder (hashes verified, `load`) or a run folder, as a `Policy`.

    Raises:
        ConfigError: ``path`` is neither (one line naming it).
    """
    folder = Path(path)
    if (folder / mf.MANIFEST).is_file():
        return load(folder, device)
    if (folder / "config.yaml").is_file():
        return load_folder(folder, device)
    raise ConfigError(
        f"'{folder}' is neither a model package nor a run folder (no manifest.json or config.yaml)"
    )
