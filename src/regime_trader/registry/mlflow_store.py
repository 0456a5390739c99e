"""The registry on MLflow's Model Registry over a SQLite store (aliases, not stages)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from regime_trader.errors import ConfigError
from regime_trader.registry.base import Registry, VersionInfo

DB = "mlflow.db"


def _quiet() -> None:
    """MLflow, alembic and SQLAlchemy show warnings only (no table-creation INFO lines)."""
    from regime_trader.training.tracking import quiet_library_logs

    quiet_library_logs()
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*noload.*")  # MLflow's SQLAlchemy mappers


class MlflowRegistry(Registry):
    """`MlflowClient` on ``sqlite:///<root>/mlflow.db`` (or ``uri``); packages in ``root``."""

    backend = "mlflow"

    def __init__(self, root: str | Path, uri: str | None = None) -> None:
        super().__init__(root)
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow import MlflowClient  # type: ignore[import-untyped]

        _quiet()
        self.root.mkdir(parents=True, exist_ok=True)
        self.uri = uri or f"sqlite:///{self.root.resolve() / DB}"
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def _names(self) -> list[str]:
        names, token = [], None
        while True:
            page = self.client.search_registered_models(max_results=100, page_token=token)
            names += [m.name for m in page]
            token = page.token
            if not token:
                return names

    def _model(self, name: str) -> Any:
        return self.client.get_registered_model(name)

    def _versions(self, name: str) -> list[VersionInfo]:
        aliases: dict[str, list[str]] = {}
        for alias, v in self._model(name).aliases.items():
            aliases.setdefault(str(v), []).append(alias)
        found = self.client.search_model_versions(f"name='{name}'")
        return [
            VersionInfo(
                name,
                int(m.version),
                str(m.source),
                tuple(sorted(aliases.get(str(m.version), []))),
                dict(m.tags),
            )
            for m in found
        ]

    def _create(self, name: str, source: str, tags: dict[str, str]) -> int:
        if name not in self._names():
            self.client.create_registered_model(name, description="regime-trader model")
        mv = self.client.create_model_version(name, source=source, tags=tags)
        return int(mv.version)

    def _set_version_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, value)

    def _model_tags(self, name: str) -> dict[str, str]:
        return dict(self._model(name).tags)

    def _set_model_tag(self, name: str, key: str, value: str) -> None:
        self.client.set_registered_model_tag(name, key, value)

    def _set_alias(self, name: str, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))


def check_uri(uri: str) -> str:
    """``uri`` if MLflow can open it as a registry store."""
    if not uri.startswith(("sqlite:///", "postgresql", "mysql", "http://", "https://")):
        raise ConfigError(
            f"--uri must be an MLflow store URI such as sqlite:///path/mlflow.db, got '{uri}'"
        )
    return uri
