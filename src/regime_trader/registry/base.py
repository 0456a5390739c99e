"""The registry's verbs over a small storage interface (MLflow or a local folder).

A registry holds named models; each registration of a package is a new integer version
whose files are copied into the registry (content-addressed by the package's manifest
digest, so a version never changes). Aliases (``champion``, ``challenger``, ...) point at
versions; every promotion records when, why and its A/B evidence as tags, and pushes onto
the alias's stack so that `rollback` moves the alias back to the previous holder.

Registration records the package digest (sha256 of ``manifest.json``) and, when the package
was signed and a public key is configured, the signer's key id. Every `resolve` (what
``serve registry:NAME@alias`` and each hot swap call) and every `promote` recomputes the
digest of the stored copy and refuses, in one line naming the version, its folder and the
registry, a copy that no longer matches: a package edited and re-hashed after registration
is never served.
"""

from __future__ import annotations

import builtins
import json
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from regime_trader.errors import ConfigError
from regime_trader.package import manifest as mf
from regime_trader.package.manifest import package_digest
from regime_trader.registry.evidence import check_evidence

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
HISTORY_CHARS = 4000  # tag values stay well under MLflow's limits


@dataclass(frozen=True)
class VersionInfo:
    """One registered version: its number, package path, aliases and tags."""

    name: str
    version: int
    source: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """A flat row for `registry list`."""
        return {
            "name": self.name,
            "version": self.version,
            "model_version": self.tags.get("package_version", ""),
            "aliases": ",".join(self.aliases),
            "registered": self.tags.get("registered_at", ""),
            "sha256": self.tags.get("package_sha256", "")[:12],
            "source": self.source,
        }


class Registry(ABC):
    """Register, promote, roll back and list model versions (see the module docstring)."""

    backend = "?"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # storage interface -------------------------------------------------------------
    @abstractmethod
    def _names(self) -> builtins.list[str]: ...

    @abstractmethod
    def _versions(self, name: str) -> builtins.list[VersionInfo]: ...

    @abstractmethod
    def _create(self, name: str, source: str, tags: dict[str, str]) -> int: ...

    @abstractmethod
    def _set_version_tags(self, name: str, version: int, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def _model_tags(self, name: str) -> dict[str, str]: ...

    @abstractmethod
    def _set_model_tag(self, name: str, key: str, value: str) -> None: ...

    @abstractmethod
    def _set_alias(self, name: str, alias: str, version: int) -> None: ...

    # verbs ---------------------------------------------------------------------------
    def list(self, name: str | None = None) -> list[VersionInfo]:
        """Every version (of ``name``, or of all models), by name then version."""
        names = [self._known(name)] if name else sorted(self._names())
        return [v for n in names for v in sorted(self._versions(n), key=lambda v: v.version)]

    def get(self, name: str, ref: str | int) -> VersionInfo:
        """A version by number or by alias (``"champion"``)."""
        versions = {v.version: v for v in self._versions(self._known(name))}
        if str(ref).isdigit() and int(ref) in versions:
            return versions[int(ref)]
        for v in versions.values():
            if str(ref) in v.aliases:
                return v
        raise ConfigError(f"model '{name}' has no version or alias '{ref}' (see `registry list`)")

    def resolve(self, name: str, ref: str | int = "champion") -> Path:
        """The package folder of a version or alias, e.g. for ``regime_trader.load``.

        Raises:
            ConfigError: unknown name or reference, or a stored package whose digest is not
                the one recorded at registration (see `check_digest`).
        """
        return self.check_digest(self.get(name, ref))

    def check_digest(self, v: VersionInfo) -> Path:
        """The package folder of ``v`` if its manifest still has the registered digest."""
        where = f"{v.name} version {v.version} in the {self.backend} registry {self.root}"
        recorded = v.tags.get("package_sha256", "")
        if not recorded:
            raise ConfigError(f"{where} has no recorded package digest; register it again")
        path = Path(v.source)
        try:
            now = package_digest(path)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if now != recorded:
            raise ConfigError(
                f"{where}: package {path} has sha256 {now[:12]}, not the {recorded[:12]} "
                "recorded at registration (changed since); register the original again"
            )
        return path

    def register(self, package: str | Path, name: str | None = None) -> VersionInfo:
        """Copy a verified package into the registry as the next version of ``name``."""
        model = _load(package)  # every hash checked before anything is copied
        name = name or model.name
        if not NAME.match(name):
            raise ConfigError(f"model name '{name}' must be letters, digits, '_', '.', '-'")
        checked = mf.verify_package(package)
        digest = checked.digest
        for v in self._versions(name) if name in self._names() else []:
            if v.tags.get("package_sha256") == digest:
                raise ConfigError(f"{package} is already registered as {name} version {v.version}")
        source = self._store(Path(package), name, digest)
        tags = {
            "package_version": model.version,
            "package_sha256": digest,
            "registered_at": now_iso(),
            "registered_from": str(Path(package).resolve()),
            "format_version": str(model.metadata.get("format_version", "")),
        }
        if checked.signer:
            tags["signed_by"] = checked.signer  # key id of the verified signature
        version = self._create(name, str(source), tags)
        return self.get(name, version)

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = "champion",
        reason: str,
        evidence: str | Path | None = None,
        force: bool = False,
    ) -> VersionInfo:
        """Point ``alias`` at ``version``, recording when, why and the A/B evidence.

        Raises:
            ConfigError: unknown version, empty reason, already the alias, or evidence
                whose verdict for this version is not "promote" (unless ``force``).
        """
        target = self.get(name, int(version))
        self.check_digest(target)
        if not reason.strip():
            raise ConfigError("--reason is required: say why this version is promoted")
        current = self._alias_version(name, alias)
        if current == target.version:
            raise ConfigError(f"{name} version {target.version} is already '{alias}'")
        record = {"at": now_iso(), "reason": reason, "force": force}
        if evidence is not None:
            record["evidence"] = check_evidence(evidence, target.tags["package_sha256"], force)
        stack = self._stack(name, alias)
        if current is not None and (not stack or stack[-1] != current):
            stack.append(current)  # an alias set outside these commands
        stack.append(target.version)
        self._log(name, alias, {"action": "promote", "version": target.version, **record})
        self._set_model_tag(name, f"alias_stack.{alias}", json.dumps(stack))
        self._set_version_tags(name, target.version, _prefixed(f"promoted.{alias}", record))
        self._set_alias(name, alias, target.version)
        return self.get(name, target.version)

    def rollback(self, name: str, *, alias: str = "champion", reason: str = "") -> VersionInfo:
        """Move ``alias`` back to the version that held it before the last promotion."""
        stack = self._stack(self._known(name), alias)
        if len(stack) < 2:
            raise ConfigError(f"'{alias}' of {name} has no previous version to roll back to")
        dropped = stack.pop()
        record = {"at": now_iso(), "reason": reason or "rollback", "from": dropped}
        self._log(name, alias, {"action": "rollback", "version": stack[-1], **record})
        self._set_model_tag(name, f"alias_stack.{alias}", json.dumps(stack))
        self._set_version_tags(name, dropped, _prefixed(f"rolled_back.{alias}", record))
        self._set_alias(name, alias, stack[-1])
        return self.get(name, stack[-1])

    def history(self, name: str, alias: str = "champion") -> builtins.list[dict[str, Any]]:
        """Promotions and rollbacks of ``alias``, oldest first (the newest are kept)."""
        return json.loads(self._model_tags(self._known(name)).get(f"alias_history.{alias}", "[]"))

    # helpers ---------------------------------------------------------------------------
    def _known(self, name: str) -> str:
        if name not in self._names():
            raise ConfigError(f"no model named '{name}' in the {self.backend} registry {self.root}")
        return name

    def _alias_version(self, name: str, alias: str) -> int | None:
        for v in self._versions(name):
            if alias in v.aliases:
                return v.version
        return None

    def _stack(self, name: str, alias: str) -> builtins.list[int]:
        return [
            int(v) for v in json.loads(self._model_tags(name).get(f"alias_stack.{alias}", "[]"))
        ]

    def _log(self, name: str, alias: str, entry: dict[str, Any]) -> None:
        events = [*self.history(name, alias), _compact(entry)]
        while len(json.dumps(events)) > HISTORY_CHARS and len(events) > 1:
            events.pop(0)
        self._set_model_tag(name, f"alias_history.{alias}", json.dumps(events))

    def _store(self, package: Path, name: str, digest: str) -> Path:
        """Copy ``package`` to ``root/packages/<name>/<digest[:16]>`` (atomically)."""
        target = self.root / "packages" / name / digest[:16]
        if target.is_dir():
            if package_digest(target) != digest:
                raise ConfigError(
                    f"{target}: the {self.backend} registry's copy does not match the package "
                    "being registered (changed?); remove that folder and register again"
                )
            return target.resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            # links stay links, so that verifying the copy refuses them too
            shutil.copytree(package, tmp, symlinks=True, dirs_exist_ok=True)
            _load(tmp)  # the copy verifies too
            if package_digest(tmp) != digest:
                raise ConfigError(f"{package}: changed while it was registered; register again")
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target.resolve()


def _compact(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    if isinstance(out.get("evidence"), dict):
        ev = out["evidence"]
        out["evidence"] = {k: ev.get(k) for k in ("file", "sha256", "verdict")}
    return out


def _prefixed(prefix: str, record: dict[str, Any]) -> dict[str, str]:
    return {f"{prefix}.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in record.items()}


def _load(path: str | Path) -> Any:  # a Policy; torch is imported only when loading
    from regime_trader.package.loader import load

    return load(path)


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
