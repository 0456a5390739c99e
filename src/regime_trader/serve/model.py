"""The served model: resolve ``PKG`` or ``registry:NAME@alias``, load it, swap it while serving.

`ModelHolder.current` is one reference; a request reads it once and finishes on that model,
so a swap (``reload``, or the watcher seeing a new package behind the spec) never drops or
mixes a request: the new model is loaded and checked first, then the reference is replaced.
Each loaded model carries its own torch lock (``_torch_lock``): one forward pass at a time
per model, run off the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from regime_trader.errors import ConfigError
from regime_trader.package import loader as package_loader
from regime_trader.policy.policy import Policy
from regime_trader.serve.redact import redact, redact_text
from regime_trader.serve.refusals import ReloadError

log = logging.getLogger("regime_trader.serve")
REGISTRY_PREFIX = "registry:"


def resolve(spec: str, registry_root: str | Path = "registry") -> Path:
    """The package folder behind ``spec``: a path, or ``registry:NAME@alias`` (alias default
    ``champion``) looked up in the registry at ``registry_root``."""
    if spec.startswith(REGISTRY_PREFIX):
        return _resolve_registry(spec[len(REGISTRY_PREFIX) :], registry_root)
    path = Path(spec)
    if not path.exists():
        raise ConfigError(
            f"model '{spec}' not found (a package folder, a run folder, or registry:NAME@alias)"
        )
    return path


def _resolve_registry(ref: str, root: str | Path) -> Path:
    name, _, alias = ref.partition("@")
    if not name:
        raise ConfigError(
            f"registry reference '{ref}' needs NAME@alias, e.g. registry:spx@champion"
        )
    from regime_trader.registry import open_registry

    if not Path(root).is_dir():
        raise ConfigError(f"no model registry at '{root}' (give --registry DIR)")
    return Path(open_registry(root).resolve(name, alias or "champion"))


def fingerprint(path: Path) -> tuple[str, int]:
    """What changes when a new package lands behind the same spec: path and file times."""
    files = [path / "manifest.json", path / "model.safetensors", path / "best.safetensors"]
    stamps = [f.stat().st_mtime_ns for f in files if f.is_file()]
    return str(path.resolve()), max(stamps, default=0)


def load_model(path: Path, device: str = "cpu", threads: int | None = None) -> Policy:
    """A `Policy` from a package folder (hashes verified) or a run folder."""
    return attach_lock(package_loader.load_model(path, device), threads)


def attach_lock(model: Policy, threads: int | None = None) -> Policy:
    """Give ``model`` its torch lock (one forward pass at a time) and torch thread count
    (default: the calling thread's, as `serve --threads` sets it)."""
    import torch

    model._torch_lock = threading.Lock()
    model._threads = int(threads or torch.get_num_threads())
    return model


class ModelHolder:
    """The model in service; ``reload()`` swaps in a newly promoted one without downtime.

    Every swap (the watcher, ``POST /v1/reload``, `swap_to`) calls the ``on_swap`` listeners
    with the new model, so the service's metrics follow whatever made the swap. A reload that
    fails while serving raises `ReloadError` naming the file, local folders cut to their name.
    """

    def __init__(
        self,
        spec: str | None = None,
        device: str = "cpu",
        model: Policy | None = None,
        registry_root: str | Path = "registry",
    ) -> None:
        import torch

        self.spec, self.device, self.registry_root = spec, device, registry_root
        self.threads = torch.get_num_threads()  # the creating thread's (serve --threads)
        self._swap = threading.Lock()
        self._listeners: list[Callable[[Any], None]] = []
        self.path: Path | None = None
        self._trying: Path | None = None  # the folder being loaded (named in a failure)
        self._print: tuple[str, int] | None = None
        self.current: Any = attach_lock(model, self.threads) if model is not None else None
        self.loaded_at = time.time()
        self.swaps = 0
        if model is None:
            if spec is None:
                raise ConfigError("ModelHolder needs a spec or a model")
            self.reload(force=True)

    def on_swap(self, listener: Callable[[Any], None]) -> None:
        """Call ``listener(new_model)`` after every swap, whatever made it."""
        self._listeners.append(listener)

    def reload(self, force: bool = False) -> bool:
        """Load the package behind the spec again; swap when it changed. True if swapped."""
        if self.spec is None:
            return False
        with self._swap:  # one reload at a time; requests keep using `current`
            old = self.current
            self._trying = None
            try:
                model, path, stamp = self._load_if_changed(force)
            except Exception as exc:
                if old is None:
                    raise  # the first load: the operator sees the full error
                raise ReloadError(self._reload_failure(old, exc)) from exc
            if model is None:
                return False
            self.current, self.path, self._print = model, path, stamp
            self.loaded_at = time.time()
            self.swaps += 0 if old is None else 1
        if old is not None:
            log.info("model swapped: %s %s -> %s", self.spec, old.version, model.version)
            self._notify(model)
        return True

    def _load_if_changed(self, force: bool) -> tuple[Any, Path, tuple[str, int]]:
        path = resolve(str(self.spec), self.registry_root)
        stamp = fingerprint(path)
        if not force and stamp == self._print:
            return None, path, stamp
        self._trying = path
        return load_model(path, self.device, self.threads), path, stamp

    def _reload_failure(self, old: Any, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        folder = self._trying
        if folder is not None:
            for form in {str(folder.resolve()), str(folder)}:
                text = text.replace(form, folder.name)
        where, now = redact_text(str(self.spec)), f"{old.name} {old.version}"
        return f"reload of {where} failed, still serving {now}: {redact_text(text)}"

    def swap_to(self, model: Policy) -> None:
        """Serve ``model`` from now on (tests, programmatic promotion)."""
        with self._swap:
            self.current = attach_lock(model, self.threads)
            self.loaded_at = time.time()
            self.swaps += 1
        self._notify(self.current)

    def _notify(self, model: Policy) -> None:
        for listener in self._listeners:
            try:
                listener(model)
            except Exception as exc:  # noqa: BLE001 - a listener never undoes a swap
                log.error("swap listener failed: %s", exc)

    def watch(self, interval: float = 5.0) -> threading.Event:
        """Poll the spec every ``interval`` s and reload on change; set the event to stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.reload()
                except Exception as exc:  # noqa: BLE001 - keep serving the old model
                    log.error("model reload failed, still serving the old one: %s", exc)

        threading.Thread(target=loop, name="model-watcher", daemon=True).start()
        return stop

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/model`` shows: no local folder (paths cut to their last part)."""
        m = self.current
        return {
            "name": m.name,
            "version": m.version,
            "spec": None if self.spec is None else redact_text(self.spec),
            "loaded_at": self.loaded_at,
            "swaps": self.swaps,
            "features": list(m.scaler.names),
            "window": m.config.env.window,
            "net": m.config.agent.net,
            "allow_short": m.config.env.allow_short,
            "decision_rule": m.rule.to_dict(),
            "metadata": redact(m.metadata),
        }
