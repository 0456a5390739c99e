"""Model registry: MLflow Model Registry on SQLite (aliases) or a local folder, same verbs.

>>> reg = open_registry("registry")  # doctest: +SKIP
>>> v = reg.register("models/spx-mlp")  # doctest: +SKIP
>>> reg.promote(v.name, v.version, reason="beats v1", evidence="ab/abtest.json")  # doctest: +SKIP
>>> regime_trader.load(reg.resolve(v.name, "champion"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from regime_trader.errors import ConfigError
from regime_trader.registry.base import Registry, VersionInfo
from regime_trader.registry.local import LocalRegistry

Backend = Literal["auto", "mlflow", "local"]


def mlflow_available() -> bool:
    """Whether ``import mlflow`` would work (checked without importing it)."""
    return importlib.util.find_spec("mlflow") is not None


def open_registry(
    root: str | Path = "registry", backend: Backend = "auto", uri: str | None = None
) -> Registry:
    """The registry in folder ``root``: MLflow (``root/mlflow.db``) when installed, else local.

    Args:
        root: folder of the registry (the SQLite store and the package copies).
        backend: ``"mlflow"``, ``"local"``, or ``"auto"`` (MLflow when importable).
        uri: an MLflow store URI instead of ``sqlite:///<root>/mlflow.db``.

    Raises:
        ConfigError: ``backend="mlflow"`` without MLflow installed, or an unknown backend.
    """
    if backend not in ("auto", "mlflow", "local"):
        raise ConfigError(f"--backend must be auto, mlflow or local, got '{backend}'")
    root = Path(root)
    if (
        backend == "auto"
        and (root / "registry.json").is_file()
        and not (root / "mlflow.db").exists()
    ):
        backend = "local"  # an existing local registry stays local
    if backend == "local" or (backend == "auto" and not mlflow_available()):
        return LocalRegistry(root)
    if not mlflow_available():
        raise ConfigError("--backend mlflow needs MLflow: pip install 'regime-trader[tracking]'")
    from regime_trader.registry.mlflow_store import MlflowRegistry, check_uri

    return MlflowRegistry(root, None if uri is None else check_uri(uri))


__all__ = ["LocalRegistry", "Registry", "VersionInfo", "mlflow_available", "open_registry"]
