"""Versioned model packages: `build_package(run, out)` writes one, `load(path)` reads it.

A package is a flat folder: ``model.safetensors``, ``config.json``, ``features.json``
(names, lookback, scaler), ``calibration.json`` (when the run was calibrated),
``metrics.json``, ``metadata.json``, ``MODEL_CARD.md`` and ``manifest.json`` (format version
and a sha256 per file). Loading checks every hash and never unpickles (docs/lifecycle.md).
"""

from __future__ import annotations

from regime_trader.package.build import build_package
from regime_trader.package.loader import DECISION_COLUMNS, ModelPackage, load, load_model
from regime_trader.package.manifest import FORMAT_VERSION, package_digest, verify

__all__ = [
    "DECISION_COLUMNS",
    "FORMAT_VERSION",
    "ModelPackage",
    "build_package",
    "load",
    "load_model",
    "package_digest",
    "verify",
]
