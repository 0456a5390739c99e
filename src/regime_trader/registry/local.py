"""A registry in a local folder (``registry.json`` + package copies): no MLflow needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regime_trader.errors import ConfigError
from regime_trader.registry.base import Registry, VersionInfo
from regime_trader.utils.io import atomic_write_json

INDEX = "registry.json"


class LocalRegistry(Registry):
    """Same commands as the MLflow registry; the state is one JSON file written atomically."""

    backend = "local"

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.index = self.root / INDEX

    def _read(self) -> dict[str, Any]:
        if not self.index.is_file():
            return {"models": {}}
        try:
            return json.loads(self.index.read_text(encoding="utf-8"))
        except ValueError:
            raise ConfigError(f"{self.index}: damaged registry index (not JSON)") from None

    def _write(self, state: dict[str, Any]) -> None:
        atomic_write_json(self.index, state)

    def _model(self, state: dict[str, Any], name: str) -> dict[str, Any]:
        return state["models"].setdefault(name, {"versions": {}, "aliases": {}, "tags": {}})

    def _names(self) -> list[str]:
        return list(self._read()["models"])

    def _versions(self, name: str) -> list[VersionInfo]:
        model = self._read()["models"].get(name)
        if model is None:
            return []
        aliases: dict[str, list[str]] = {}
        for alias, v in model["aliases"].items():
            aliases.setdefault(str(v), []).append(alias)
        return [
            VersionInfo(name, int(v), d["source"], tuple(sorted(aliases.get(v, []))), d["tags"])
            for v, d in model["versions"].items()
        ]

    def _create(self, name: str, source: str, tags: dict[str, str]) -> int:
        state = self._read()
        model = self._model(state, name)
        version = max((int(v) for v in model["versions"]), default=0) + 1
        model["versions"][str(version)] = {"source": source, "tags": dict(tags)}
        self._write(state)
        return version

    def _set_version_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        state = self._read()
        self._model(state, name)["versions"][str(version)]["tags"].update(tags)
        self._write(state)

    def _model_tags(self, name: str) -> dict[str, str]:
        return dict(self._read()["models"].get(name, {}).get("tags", {}))

    def _set_model_tag(self, name: str, key: str, value: str) -> None:
        state = self._read()
        self._model(state, name)["tags"][key] = value
        self._write(state)

    def _set_alias(self, name: str, alias: str, version: int) -> None:
        state = self._read()
        self._model(state, name)["aliases"][alias] = version
        self._write(state)
