"""The package manifest: format version and a sha256 per file, checked on every load.

``manifest.json`` is the integrity root of a package; ``manifest.sig`` (optional) is an
Ed25519 signature over its exact bytes (`regime_trader.package.signing`). `verify` refuses,
with one line naming the file and the fix:

* before any file is opened, from ``lstat`` alone: a symlink, a hard link (``st_nlink > 1``),
  a subfolder or any entry that is not a regular file;
* a manifest of another major format version, a file listed but missing, a file present
  but not listed, a required file not listed, a file whose bytes no longer match its hash;
* a ``metadata.json`` that says ``"calibrated": true`` without ``calibration.json``
  (deleting the calibration would silently revert the model to greedy decisions);
* when a public key is configured (argument, or the file named by ``REGIME_TRADER_PUBLIC_KEY``):
  an unsigned package, or a signature that is not the key's over this manifest.

Every file is opened with ``O_NOFOLLOW`` and checked against its ``lstat`` again (same
inode, one link) after opening, so a file swapped for a link between the two is refused too.
`read_verified` returns the verified bytes themselves, for a loader that must not read a
file twice (check-then-read races).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from regime_trader.errors import ConfigError

FORMAT_VERSION = "1.0"
"""Package format ``MAJOR.MINOR``: a loader reads any minor version of its own major."""

MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
WEIGHTS, CONFIG, FEATURES, CALIBRATION = (
    "model.safetensors",
    "config.json",
    "features.json",
    "calibration.json",
)
METRICS, METADATA, MODEL_CARD = "metrics.json", "metadata.json", "MODEL_CARD.md"
REQUIRED: tuple[str, ...] = (WEIGHTS, CONFIG, FEATURES, METRICS, METADATA, MODEL_CARD)
"""Files every package holds (``calibration.json`` is optional)."""
READS: tuple[str, ...] = (WEIGHTS, CONFIG, FEATURES, CALIBRATION, METADATA)
"""Files the loader reads: each must be in the manifest whenever it is present."""
UNLISTED: frozenset[str] = frozenset({MANIFEST, SIGNATURE})
"""Entries that are not in the manifest's file list (the manifest and its signature)."""
PUBLIC_KEY_ENV = "REGIME_TRADER_PUBLIC_KEY"
"""Environment variable naming the Ed25519 public key (PEM) that every package must match."""
_CHUNK = 1 << 20


def scan(folder: str | Path) -> dict[str, os.stat_result]:
    """``lstat`` of every entry of a package folder, refusing what a package never holds.

    Nothing is opened: symlinks, hard links, subfolders and special files are refused from
    their ``lstat`` alone (the folder itself may be reached through a link).

    Raises:
        ConfigError: not a folder, or an entry that is not a plain, singly linked file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"'{folder}' is not a model package folder (run `regime-trader package`)")
    entries: dict[str, os.stat_result] = {}
    with os.scandir(folder) as it:
        for entry in it:
            entries[entry.name] = _plain(folder, entry.name, entry.stat(follow_symlinks=False))
    return dict(sorted(entries.items()))


def _plain(folder: Path, name: str, st: os.stat_result) -> os.stat_result:
    """``st`` if it is a regular file with one link; else a one-line ConfigError."""
    where = f"{folder}: '{name}'"
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(f"{where} is a symlink; a package holds plain files only (copy it in)")
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{where} is a subfolder; a package is a flat folder (remove it)")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{where} is not a regular file; a package holds plain files only")
    if st.st_nlink > 1:
        raise ConfigError(
            f"{where} is a hard link ({st.st_nlink} links); copy the file instead of linking it"
        )
    return st


@contextmanager
def open_checked(folder: Path, name: str, st: os.stat_result) -> Iterator[IO[bytes]]:
    """Open ``folder/name`` without following links; refuse it unless it is still ``st``."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(folder / name, flags)
    except OSError as exc:
        raise ConfigError(f"{folder}: '{name}' cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        now = os.fstat(fd)
        if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev) or now.st_nlink != 1:
            raise ConfigError(f"{folder}: '{name}' changed while it was checked; load it again")
        yield fh


def _sha256(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: fh.read(_CHUNK), b""):
        digest.update(block)
    return digest.hexdigest()


def _read(folder: Path, name: str, entries: dict[str, os.stat_result]) -> bytes:
    with open_checked(folder, name, entries[name]) as fh:
        return fh.read()


def build_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of every file in ``folder`` (flat; manifest and signature excluded).

    Raises:
        ConfigError: the folder holds a link, a subfolder or a special file (see `scan`).
    """
    folder = Path(folder)
    entries = scan(folder)
    files = {}
    for name, st in entries.items():
        if name not in UNLISTED:
            with open_checked(folder, name, st) as fh:
                files[name] = _sha256(fh)
    return {"format_version": FORMAT_VERSION, "files": files}


def _major(version: object) -> int | None:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def parse_manifest(folder: Path, raw: bytes) -> dict[str, Any]:
    """The manifest in ``raw`` (the bytes of ``folder/manifest.json``), its format checked.

    Raises:
        ConfigError: not a valid manifest, or another major format version.
    """
    path = folder / MANIFEST
    try:
        manifest = json.loads(raw.decode("utf-8"))
        files = manifest["files"]
        version = manifest["format_version"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path}: not a valid package manifest (damaged?)") from None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ConfigError(f"{path}: not a valid package manifest ('files' is not a mapping)")
    if _major(version) != _major(FORMAT_VERSION):
        raise ConfigError(
            f"{folder}: package format {version} cannot be read by this regime-trader "
            f"(reads format {FORMAT_VERSION.split('.')[0]}.x); re-package the run with it"
        )
    return manifest


def _manifest_bytes(folder: Path, entries: dict[str, os.stat_result]) -> bytes:
    if MANIFEST not in entries:
        raise ConfigError(f"'{folder}' is not a model package: no {MANIFEST}")
    return _read(folder, MANIFEST, entries)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """``manifest.json`` of ``folder``, the folder scanned and the format version checked."""
    folder = Path(folder)
    entries = scan(folder)
    return parse_manifest(folder, _manifest_bytes(folder, entries))


def _check_listing(folder: Path, listed: dict[str, str], entries: dict[str, Any]) -> None:
    for name in REQUIRED:
        if name not in listed:
            raise ConfigError(f"{folder}: manifest has no entry for required file '{name}'")
    unlisted = sorted(set(entries) - set(listed) - UNLISTED)
    if unlisted:
        raise ConfigError(f"{folder}: file '{unlisted[0]}' is not in the manifest (tampered?)")
    for name in listed:
        if Path(name).name != name or name in UNLISTED or name not in entries:
            raise ConfigError(f"{folder}: '{name}' is listed in the manifest but missing")


def _check_hash(folder: Path, name: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise ConfigError(
            f"{folder}: '{name}' does not match its sha256 in the manifest "
            "(tampered or truncated); re-package the run"
        )


def _check_calibrated(folder: Path, metadata: bytes, listed: dict[str, str]) -> None:
    """A package whose metadata says calibrated must carry its calibration."""
    try:
        flag = json.loads(metadata.decode("utf-8")).get("calibrated")
    except (ValueError, AttributeError):
        raise ConfigError(f"{folder / METADATA}: not readable JSON (re-package the run)") from None
    if not isinstance(flag, bool):
        raise ConfigError(
            f"{folder / METADATA}: field 'calibrated' must be true or false; re-package the run"
        )
    if flag and CALIBRATION not in listed:
        raise ConfigError(
            f"{folder}: metadata.json says calibrated but the manifest has no "
            f"'{CALIBRATION}' (removed?); re-package the run"
        )


def configured_key(public_key: str | Path | None = None) -> Path | None:
    """The public key to check signatures with: ``public_key``, else ``$REGIME_TRADER_PUBLIC_KEY``."""
    if public_key is not None:
        return Path(public_key)
    env = os.environ.get(PUBLIC_KEY_ENV, "").strip()
    return Path(env) if env else None


@dataclass(frozen=True)
class Verified:
    """A verified package: its manifest, the verified bytes of every listed file, the signer.

    ``files`` holds bytes only when asked for (`read_verified`); ``signer`` is the key id
    (sha256 of the raw public key, 16 hex digits) when a signature was checked, else None.
    """

    folder: Path
    manifest: dict[str, Any]
    digest: str
    files: dict[str, bytes]
    signer: str | None


def _hash_files(
    folder: Path, listed: dict[str, str], entries: dict[str, os.stat_result], keep: bool
) -> dict[str, bytes]:
    """Check every listed file's sha256; the bytes of all (``keep``) or of metadata.json."""
    files: dict[str, bytes] = {}
    for name, expected in listed.items():
        with open_checked(folder, name, entries[name]) as fh:
            if keep or name == METADATA:
                files[name] = fh.read()
                actual = hashlib.sha256(files[name]).hexdigest()
            else:
                actual = _sha256(fh)
        _check_hash(folder, name, actual, expected)
    return files


def _verify(folder: Path, key: Path | None, keep: bool) -> Verified:
    entries = scan(folder)  # lstat only: nothing is opened before this passes
    raw = _manifest_bytes(folder, entries)
    manifest = parse_manifest(folder, raw)
    listed: dict[str, str] = manifest["files"]
    _check_listing(folder, listed, entries)
    signer = None
    if key is not None:
        from regime_trader.package.signing import check_signature  # cryptography: only here

        sig = _read(folder, SIGNATURE, entries) if SIGNATURE in entries else None
        signer = check_signature(folder, raw, sig, key)
    files = _hash_files(folder, listed, entries, keep)
    _check_calibrated(folder, files[METADATA], listed)
    digest = hashlib.sha256(raw).hexdigest()
    return Verified(folder, manifest, digest, files if keep else {}, signer)


def verify_package(
    folder: str | Path,
    public_key: str | Path | None = None,
    *,
    read: bool = False,
    signature: bool = True,
) -> Verified:
    """Check a package: links, listing, hashes, calibration, and its signature.

    Args:
        folder: the package folder.
        public_key: an Ed25519 public key (PEM file); None takes ``$REGIME_TRADER_PUBLIC_KEY``
            when set, else signatures are not checked.
        read: keep the verified bytes of every listed file in ``Verified.files``.
        signature: False skips the signature check (signing a package needs this).

    Raises:
        ConfigError: one line naming the first problem (see the module docstring).
    """
    key = configured_key(public_key) if signature else None
    return _verify(Path(folder), key, keep=read)


def verify(folder: str | Path, public_key: str | Path | None = None) -> dict[str, Any]:
    """`verify_package` of ``folder``; the manifest (what `load` calls first)."""
    return verify_package(folder, public_key).manifest


def read_verified(folder: str | Path, public_key: str | Path | None = None) -> Verified:
    """`verify_package` with the verified bytes of every listed file (read once).

    A loader that parses ``Verified.files[name]`` reads exactly what was hashed: nothing the
    manifest does not list, and nothing swapped in after the check.
    """
    return verify_package(folder, public_key, read=True)


def manifest_bytes(folder: str | Path) -> bytes:
    """The exact bytes of ``folder/manifest.json`` (the folder scanned first)."""
    folder = Path(folder)
    return _manifest_bytes(folder, scan(folder))


def package_digest(folder: str | Path) -> str:
    """sha256 of ``manifest.json``: one fingerprint of the whole package.

    Raises:
        ConfigError: no manifest, or the folder holds a link or subfolder (see `scan`).
    """
    return hashlib.sha256(manifest_bytes(folder)).hexdigest()
