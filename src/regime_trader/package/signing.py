"""Ed25519 signatures over a package's manifest: proof of who made a package.

The manifest lists the sha256 of every file, so one signature over its exact bytes covers
the whole package. ``manifest.sig`` is JSON::

    {"algorithm": "ed25519", "key_id": "<16 hex>", "manifest_sha256": "<64 hex>",
     "signature": "<base64 of 64 bytes>"}

>>> priv, pub = generate_keypair("keys")  # doctest: +SKIP
>>> sign_package("models/spx-a", priv)  # doctest: +SKIP
>>> regime_trader.load("models/spx-a")  # with REGIME_TRADER_PUBLIC_KEY=keys/public_key.pem  # doctest: +SKIP

Keys are PEM files: PKCS#8 private key (unencrypted, written with mode 0600) and
SubjectPublicKeyInfo public key. `check_signature` is what `manifest.verify` calls when a
public key is configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from regime_trader.errors import ConfigError
from regime_trader.package import manifest as mf
from regime_trader.utils.io import atomic_write_json

ALGORITHM = "ed25519"
PRIVATE_KEY, PUBLIC_KEY = "private_key.pem", "public_key.pem"


def key_id(public: Ed25519PublicKey) -> str:
    """First 16 hex digits of the sha256 of the raw 32-byte public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(out_dir: str | Path) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair into ``out_dir``; (private key path, public key path).

    Raises:
        ConfigError: a key file already exists there (never overwritten).
    """
    out = Path(out_dir)
    priv_path, pub_path = out / PRIVATE_KEY, out / PUBLIC_KEY
    for path in (priv_path, pub_path):
        if path.exists() or path.is_symlink():
            raise ConfigError(f"'{path}' already exists; choose another folder for the new keys")
    out.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub_path.write_bytes(public)
    return priv_path, pub_path


def _pem(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} '{path}' cannot be read ({exc.strerror})") from None


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM file ``path`` (as `generate_keypair` writes it)."""
    path = Path(path)
    try:
        key = serialization.load_pem_private_key(_pem(path, "private key"), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 key (make one with generate_keypair)")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM file ``path`` (as `generate_keypair` writes it)."""
    path = Path(path)
    try:
        key = serialization.load_pem_public_key(_pem(path, "public key"))
    except (ValueError, TypeError):
        raise ConfigError(
            f"{path}: not a PEM public key (set {mf.PUBLIC_KEY_ENV} to one)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: not an Ed25519 public key (make one with generate_keypair)")
    return key


def sign_package(folder: str | Path, private_key_path: str | Path) -> Path:
    """Verify ``folder`` (hashes, listing, no links) and write its ``manifest.sig``.

    Signing does not change the manifest, so the package digest stays the same; a package
    registered before it was signed keeps an unsigned copy in the registry (sign first).

    Returns:
        The path of ``manifest.sig``.

    Raises:
        ConfigError: the package does not verify, or the key is not an Ed25519 private key.
    """
    folder = Path(folder)
    key = load_private_key(private_key_path)
    checked = mf.verify_package(folder, signature=False)
    raw = mf.manifest_bytes(folder)
    if hashlib.sha256(raw).hexdigest() != checked.digest:
        raise ConfigError(f"{folder}: manifest.json changed while signing; sign it again")
    record = {
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "manifest_sha256": checked.digest,
        "signature": base64.b64encode(key.sign(raw)).decode("ascii"),
    }
    return atomic_write_json(folder / mf.SIGNATURE, record)


def _parse(folder: Path, sig: bytes) -> tuple[bytes, str]:
    where = folder / mf.SIGNATURE
    try:
        record = json.loads(sig.decode("utf-8"))
        algorithm, signature = record["algorithm"], record["signature"]
        signed_by = str(record.get("key_id", "?"))
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ConfigError(f"{where}: not a valid signature file (damaged?); sign again") from None
    if algorithm != ALGORITHM:
        raise ConfigError(f"{where}: algorithm '{algorithm}' is not {ALGORITHM}; sign again")
    return raw, signed_by


def check_signature(
    folder: Path, manifest: bytes, sig: bytes | None, public_key_path: str | Path
) -> str:
    """The key id of ``public_key_path`` if ``sig`` is its signature of ``manifest``.

    Raises:
        ConfigError: no signature, a damaged one, or one not made by this key over these bytes.
    """
    public = load_public_key(public_key_path)
    kid = key_id(public)
    if sig is None:
        raise ConfigError(
            f"{folder}: no {mf.SIGNATURE} but a public key is configured ({public_key_path}); "
            f"sign the package with sign_package or unset {mf.PUBLIC_KEY_ENV}"
        )
    raw, signed_by = _parse(folder, sig)
    try:
        public.verify(raw, manifest)
    except InvalidSignature:
        raise ConfigError(
            f"{folder}: {mf.SIGNATURE} does not verify with key {kid} ({public_key_path}; "
            f"signed by {signed_by}): the manifest changed or another key signed it"
        ) from None
    return kid
