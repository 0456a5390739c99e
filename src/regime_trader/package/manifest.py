"""The package manifest: the format version and a sha256 per file, checked on every load.

``manifest.json`` is the integrity root of a package. `verify` refuses, with one line naming
the file, a package whose format's major version differs from `FORMAT_VERSION`, a file
listed but missing, a file present but not listed, a required file not listed, and a file
whose bytes (tampered or truncated) no longer match their hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regime_trader.errors import ConfigError
from regime_trader.utils.io import sha256_file

FORMAT_VERSION = "1.0"
"""Package format ``MAJOR.MINOR``: a loader reads any minor version of its own major."""

MANIFEST = "manifest.json"
WEIGHTS, CONFIG, FEATURES, CALIBRATION = (
    "model.safetensors",
    "config.json",
    "features.json",
    "calibration.json",
)
METRICS, METADATA, MODEL_CARD = "metrics.json", "metadata.json", "MODEL_CARD.md"
REQUIRED: tuple[str, ...] = (WEIGHTS, CONFIG, FEATURES, METRICS, METADATA, MODEL_CARD)
"""Files every package holds (``calibration.json`` is optional)."""


def build_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of every file in ``folder`` (flat; the manifest itself excluded)."""
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    return {
        "format_version": FORMAT_VERSION,
        "files": {name: sha256_file(folder / name) for name in files},
    }


def _major(version: object) -> int | None:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def read_manifest(folder: Path) -> dict[str, Any]:
    """``manifest.json`` of ``folder``, its format version checked.

    Raises:
        ConfigError: not a package, unreadable manifest, or another major format version.
    """
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ConfigError(f"'{folder}' is not a model package folder (run `regime-trader package`)")
    if not path.is_file():
        raise ConfigError(f"'{folder}' is not a model package: no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        version = manifest["format_version"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path}: not a valid package manifest (damaged?)") from None
    if not isinstance(files, dict):
        raise ConfigError(f"{path}: not a valid package manifest ('files' is not a mapping)")
    if _major(version) != _major(FORMAT_VERSION):
        raise ConfigError(
            f"{folder}: package format {version} cannot be read by this regime-trader "
            f"(reads format {FORMAT_VERSION.split('.')[0]}.x); re-package the run with it"
        )
    return manifest


def verify(folder: str | Path) -> dict[str, Any]:
    """Check every file of a package against its manifest; the manifest.

    Raises:
        ConfigError: one line naming the first problem (see the module docstring).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    listed: dict[str, str] = manifest["files"]
    for name in REQUIRED:
        if name not in listed:
            raise ConfigError(f"{folder}: manifest has no entry for required file '{name}'")
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST}
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise ConfigError(f"{folder}: file '{unlisted[0]}' is not in the manifest (tampered?)")
    for name, expected in listed.items():
        path = folder / name
        if Path(name).name != name or not path.is_file():
            raise ConfigError(f"{folder}: '{name}' is listed in the manifest but missing")
        if sha256_file(path) != expected:
            raise ConfigError(
                f"{folder}: '{name}' does not match its sha256 in the manifest "
                "(tampered or truncated); re-package the run"
            )
    return manifest


def package_digest(folder: str | Path) -> str:
    """sha256 of ``manifest.json``: one fingerprint of the whole package."""
    return sha256_file(Path(folder) / MANIFEST)
