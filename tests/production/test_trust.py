"""Packages that prove who made them: Ed25519 signatures, registry digests rechecked on every
resolve, no links or subfolders (refused from lstat before anything is opened), and a
calibrated package that must carry its calibration."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import regime_trader
from regime_trader.errors import ConfigError, RegimeTraderError
from regime_trader.package import manifest as mf
from regime_trader.package.signing import generate_keypair, sign_package
from regime_trader.registry import open_registry


def _fake(folder: Path, *, calibrated: bool = False) -> Path:
    """A package-shaped folder (no model: enough for the manifest checks)."""
    folder.mkdir()
    for name in mf.REQUIRED:
        (folder / name).write_text("{}")
    meta = {"name": "m", "version": "1.0.0", "calibrated": calibrated}
    (folder / mf.METADATA).write_text(json.dumps(meta))
    if calibrated:
        (folder / mf.CALIBRATION).write_text('{"threshold": 0.1}')
    _rehash(folder)
    return folder


def _rehash(folder: Path) -> None:
    """What an attacker without the key can do: edit files, then rewrite the manifest."""
    (folder / mf.MANIFEST).write_text(json.dumps(mf.build_manifest(folder)))


def _retag(folder: Path, version: str) -> None:
    meta = json.loads((folder / mf.METADATA).read_text())
    meta["version"] = version
    (folder / mf.METADATA).write_text(json.dumps(meta))
    _rehash(folder)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keypair(tmp_path / "keys")


@pytest.fixture(autouse=True)
def _no_key_from_env(monkeypatch) -> None:
    monkeypatch.delenv(mf.PUBLIC_KEY_ENV, raising=False)


# signatures -------------------------------------------------------------------------------
def test_signed_package_verifies_and_any_edit_breaks_it(tmp_path, keys) -> None:
    priv, pub = keys
    pkg = _fake(tmp_path / "pkg")
    digest = mf.package_digest(pkg)
    sign_package(pkg, priv)
    assert mf.package_digest(pkg) == digest  # the signature is beside the manifest
    got = mf.verify_package(pkg, pub)
    assert got.signer is not None and len(got.signer) == 16
    _retag(pkg, "9.9.9-tampered")  # consistent hashes, but not the signer's manifest
    mf.verify(pkg)  # without a key only the hashes are checked: they match
    with pytest.raises(ConfigError, match=r"manifest.sig does not verify with key"):
        mf.verify(pkg, pub)


def test_key_from_environment_is_enforced_by_load(package_a, tmp_path, keys, monkeypatch) -> None:
    priv, pub = keys
    pkg = Path(shutil.copytree(package_a, tmp_path / "pkg"))
    monkeypatch.setenv(mf.PUBLIC_KEY_ENV, str(pub))
    with pytest.raises(ConfigError, match=r"no manifest.sig but a public key is configured"):
        regime_trader.load(pkg)
    sign_package(pkg, priv)
    assert regime_trader.load(pkg).version == "1.0.0"
    other_priv, _ = generate_keypair(tmp_path / "other")
    sign_package(pkg, other_priv)  # re-signed by someone else
    with pytest.raises(ConfigError, match=r"signed by [0-9a-f]{16}\)"):
        regime_trader.load(pkg)


def test_damaged_signature_and_bad_keys_are_one_line_errors(tmp_path, keys) -> None:
    priv, pub = keys
    pkg = _fake(tmp_path / "pkg")
    sign_package(pkg, priv)
    (pkg / mf.SIGNATURE).write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid signature file"):
        mf.verify(pkg, pub)
    with pytest.raises(ConfigError, match="not a PEM public key"):
        mf.verify(pkg, priv)  # a private key where the public one belongs
    with pytest.raises(ConfigError, match="already exists"):
        generate_keypair(priv.parent)
    assert (priv.stat().st_mode & 0o777) == 0o600


def test_signing_refuses_a_package_that_does_not_verify(tmp_path, keys) -> None:
    pkg = _fake(tmp_path / "pkg")
    (pkg / mf.CONFIG).write_text('{"edited": true}')
    with pytest.raises(ConfigError, match="config.json' does not match its sha256"):
        sign_package(pkg, keys[0])
    assert not (pkg / mf.SIGNATURE).exists()


# files: links, subfolders, calibration ---------------------------------------------------
def test_symlink_is_refused_before_any_file_is_opened(tmp_path, monkeypatch) -> None:
    pkg = _fake(tmp_path / "pkg")
    (pkg / mf.MODEL_CARD).unlink()
    (pkg / mf.MODEL_CARD).symlink_to("/etc/passwd")
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(
        mf.os, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k)
    )
    with pytest.raises(ConfigError, match=r"'MODEL_CARD.md' is a symlink"):
        mf.verify(pkg)
    with pytest.raises(ConfigError, match="is a symlink"):
        mf.build_manifest(pkg)  # packaging a folder with a link is refused too
    assert opened == []


@pytest.mark.parametrize("kind", ["hardlink", "subfolder", "fifo", "linked_manifest"])
def test_links_subfolders_and_special_files_are_refused(tmp_path, kind) -> None:
    pkg = _fake(tmp_path / "pkg")
    if kind == "hardlink":
        os.link(pkg / mf.MODEL_CARD, tmp_path / "outside.md")
        match = r"'MODEL_CARD.md' is a hard link \(2 links\)"
    elif kind == "subfolder":
        (pkg / "extra").mkdir()
        match = "'extra' is a subfolder"
    elif kind == "fifo":
        os.mkfifo(pkg / "pipe")
        match = "'pipe' is not a regular file"
    else:
        (tmp_path / "m.json").write_bytes((pkg / mf.MANIFEST).read_bytes())
        (pkg / mf.MANIFEST).unlink()
        (pkg / mf.MANIFEST).symlink_to(tmp_path / "m.json")
        match = "'manifest.json' is a symlink"
    with pytest.raises(ConfigError, match=match):
        mf.verify(pkg)
    with pytest.raises(ConfigError, match=match):
        mf.package_digest(pkg)


def _read_checked(pkg: Path, name: str, entries: dict[str, os.stat_result]) -> bytes:
    with mf.open_checked(pkg, name, entries[name]) as fh:
        return fh.read()


def test_file_swapped_for_a_link_after_the_scan_is_refused(tmp_path) -> None:
    pkg = _fake(tmp_path / "pkg")
    entries = mf.scan(pkg)  # lstat of every entry: all plain files
    (pkg / mf.CONFIG).unlink()
    (pkg / mf.CONFIG).symlink_to(tmp_path / "elsewhere.json")
    (tmp_path / "elsewhere.json").write_text("{}")
    with pytest.raises(ConfigError, match="'config.json' cannot be opened"):  # O_NOFOLLOW
        _read_checked(pkg, mf.CONFIG, entries)
    (pkg / "new.json").write_text("{}")  # a new file (another inode) renamed into place
    os.replace(pkg / "new.json", pkg / mf.CONFIG)
    with pytest.raises(ConfigError, match="'config.json' changed while it was checked"):
        _read_checked(pkg, mf.CONFIG, entries)


def test_calibrated_package_without_its_calibration_is_refused(tmp_path) -> None:
    pkg = _fake(tmp_path / "pkg", calibrated=True)
    assert mf.CALIBRATION in mf.verify(pkg)["files"]
    (pkg / mf.CALIBRATION).unlink()
    _rehash(pkg)  # calibration.json and its manifest entry both gone
    with pytest.raises(ConfigError, match="says calibrated but the manifest has no 'calibration"):
        mf.verify(pkg)
    meta = json.loads((pkg / mf.METADATA).read_text())
    del meta["calibrated"]
    (pkg / mf.METADATA).write_text(json.dumps(meta))
    _rehash(pkg)
    with pytest.raises(ConfigError, match="field 'calibrated' must be true or false"):
        mf.verify(pkg)


def test_every_file_the_loader_reads_is_verified_bytes(tmp_path) -> None:
    pkg = _fake(tmp_path / "pkg", calibrated=True)
    got = mf.read_verified(pkg)
    assert set(got.files) == set(mf.verify(pkg)["files"])
    assert set(mf.READS) <= set(got.files)  # weights, config, features, calibration, metadata
    assert got.files[mf.CALIBRATION] == (pkg / mf.CALIBRATION).read_bytes()
    assert got.digest == mf.package_digest(pkg)
    (pkg / "calibration.json.bak").write_text("{}")  # nothing read outside the manifest
    with pytest.raises(ConfigError, match="'calibration.json.bak' is not in the manifest"):
        mf.read_verified(pkg)


# registry: the digest recorded at registration, rechecked on resolve ----------------------
def test_registry_rechecks_the_digest_on_resolve_serve_and_swap(package_a, tmp_path) -> None:
    from regime_trader.serve.model import ModelHolder, resolve

    root = tmp_path / "reg"
    reg = open_registry(root, backend="local")
    v = reg.register(package_a, name="msft")
    assert v.tags["package_sha256"] == mf.package_digest(package_a)
    reg.promote("msft", 1, reason="first")
    holder = ModelHolder("registry:msft@champion", registry_root=root)
    stored = reg.resolve("msft", "champion")
    _retag(stored, "9.9.9-tampered")  # edit metadata.json and re-hash, in the registry copy
    mf.verify(stored)  # the package alone is consistent again ...
    msg = r"msft version 1 in the local registry .*reg: package .* recorded at registration"
    with pytest.raises(ConfigError, match=msg) as err:
        reg.resolve("msft", "champion")  # ... but not the package that was registered
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=msg):
        resolve("registry:msft@champion", root)  # `serve registry:msft@champion`
    with pytest.raises(RegimeTraderError, match="msft version 1 .*recorded at registration"):
        holder.reload(force=True)  # a hot swap refuses it (paths redacted by serve)
    assert holder.current.version == "1.0.0"
    with pytest.raises(ConfigError, match=msg):
        reg.promote("msft", 1, alias="challenger", reason="x")


def test_registry_records_the_signer(package_a, tmp_path, keys, monkeypatch) -> None:
    priv, pub = keys
    pkg = Path(shutil.copytree(package_a, tmp_path / "pkg"))
    sign_package(pkg, priv)
    monkeypatch.setenv(mf.PUBLIC_KEY_ENV, str(pub))
    reg = open_registry(tmp_path / "reg", backend="local")
    v = reg.register(pkg, name="spx")
    assert v.tags["signed_by"] == mf.verify_package(pkg).signer
    assert (reg.resolve("spx", 1) / mf.SIGNATURE).is_file()  # the copy stays signed


def test_package_sign_option_writes_a_signed_package(run_a, tmp_path, monkeypatch) -> None:
    """`build_package(sign_with=KEY)` (the CLI's `package --sign KEY`): loads under the key."""
    from regime_trader.package import build_package, load
    from regime_trader.package.signing import generate_keypair

    private, public = generate_keypair(tmp_path / "keys")
    pkg = build_package(run_a, tmp_path / "signed", sign_with=private)
    monkeypatch.setenv("REGIME_TRADER_PUBLIC_KEY", str(public))
    assert load(pkg).version == "1.0.0"
    unsigned = build_package(run_a, tmp_path / "plain")
    with pytest.raises(ConfigError, match="no manifest.sig but a public key is configured"):
        load(unsigned)
