"""Versioned model packages: `build_package(run, out)` writes one, `load(path)` reads it.

A package is a flat folder: ``model.safetensors``, ``config.json``, ``features.json``
(names, lookback, scaler), ``calibration.json`` (when the run was calibrated),
``metrics.json``, ``metadata.json``, ``MODEL_CARD.md`` and ``manifest.json`` (format version
and a sha256 per file). Loading checks every hash and never unpickles (docs/lifecycle.md).

The names are resolved on first use (PEP 562), so the manifest and registry code, which need
no torch, import in a fraction of a second (`registry list` stays under its 3 s budget).
"""

from __future__ import annotations

from regime_trader.utils.lazy import lazy_getattr

_WHERE = {
    "build_package": "regime_trader.package.build",
    "DECISION_COLUMNS": "regime_trader.package.loader",
    "ModelPackage": "regime_trader.package.loader",
    "load": "regime_trader.package.loader",
    "load_model": "regime_trader.package.loader",
    "FORMAT_VERSION": "regime_trader.package.manifest",
    "package_digest": "regime_trader.package.manifest",
    "verify": "regime_trader.package.manifest",
}

__all__ = sorted(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)
