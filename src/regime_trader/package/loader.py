"""`load(path) -> ModelPackage`: a verified package whose `decide(bars)` equals the backtest.

Nothing is unpickled: weights are safetensors, everything else JSON. Every file's sha256 is
checked against the manifest before any of it is read (`manifest.verify`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from regime_trader.config import Config
from regime_trader.data.validation import validate_ohlcv
from regime_trader.errors import ConfigError
from regime_trader.evaluation.backtest import DecisionPath, policy_path
from regime_trader.evaluation.decisions import DecisionRule
from regime_trader.features import Scaler
from regime_trader.nets import build_net
from regime_trader.package import manifest as mf
from regime_trader.regimes import REGIME_NAMES
from regime_trader.utils.device import resolve_device

DECISION_COLUMNS: tuple[str, ...] = (
    "action",
    "side",
    "position",
    "q_hold",
    "q_sell",
    "q_buy",
    *(f"p_{name}" for name in REGIME_NAMES),
)
"""Columns of `ModelPackage.decide`, one row per decision bar."""

ACTION_NAMES = ("hold", "sell", "buy")


@dataclass
class ModelPackage:
    """A trained policy ready to decide: network, scaler, decision rule and its description.

    Attributes:
        config: the run's config (features, regimes and env sections drive `decide`).
        net: the Q-network in eval mode on ``device``.
        scaler: feature names and standardisation fitted on the training split.
        rule: the calibration (`DecisionRule()`, the greedy policy, when uncalibrated).
        metadata: ``metadata.json`` (version, data fingerprint, metrics, signature, ...).
        path: the package folder (or the run folder, for `from_run`).
    """

    config: Config
    net: nn.Module
    scaler: Scaler
    rule: DecisionRule
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    lookback: int = 0

    @property
    def version(self) -> str:
        """Semantic version of the model (``metadata["version"]``)."""
        return str(self.metadata.get("version", "0.0.0"))

    @property
    def name(self) -> str:
        """Model name (``metadata["name"]``)."""
        return str(self.metadata.get("name", self.path.name if self.path else "model"))

    @property
    def feature_names(self) -> list[str]:
        return list(self.scaler.names)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def decision_rule(self) -> DecisionRule:
        """The decision rule every decision of this model goes through."""
        return self.rule

    def prepare(self, bars: pd.DataFrame):  # noqa: ANN201 - a training.prepare.Prepared
        """Features, regimes and `MarketData` of raw OHLCV ``bars`` (validated first)."""
        from regime_trader.training.prepare import prepare

        frame = validate_ohlcv(bars, source="bars")
        cfg = self.config.override(data={"source": "bars", "start": None, "end": None})
        return prepare(cfg, ohlcv=frame, scaler=self.scaler, split=False, device=self.device)

    def path_on(self, bars: pd.DataFrame) -> tuple[DecisionPath, pd.DatetimeIndex]:
        """The decision path over every bar of ``bars`` with a full window (flat start)."""
        market = self.prepare(bars).market
        first, last = self.config.env.window - 1, len(market) - 1
        path = policy_path(self.net, market, first, last, self.config.env, self.rule)
        return path, market.index[first : last + 1]

    def decide(self, bars: pd.DataFrame) -> pd.DataFrame:
        """The decision at the close of every bar of ``bars`` that has a full window.

        Starts flat at the first such bar, like a backtest over the same bars, so the
        decisions equal `greedy_backtest`'s with this package's rule; the last row is the
        decision for the next bar (no future bar is needed).

        Args:
            bars: OHLCV frame (see `validate_ohlcv`), at least warm-up + window + 3 rows.

        Returns:
            Frame indexed by decision timestamp with `DECISION_COLUMNS`.
        """
        path, index = self.path_on(bars)
        frame = pd.DataFrame(
            {
                "action": path.actions.astype(np.int64),
                "side": path.sides.astype(np.float64),
                "position": path.positions.astype(np.float64),
            },
            index=pd.DatetimeIndex(index, name="timestamp"),
        )
        for i, action in enumerate(ACTION_NAMES):
            frame[f"q_{action}"] = path.q[:, i].astype(np.float64)
        for k, name in enumerate(REGIME_NAMES):
            frame[f"p_{name}"] = path.probs[:, k].astype(np.float64)
        return frame[list(DECISION_COLUMNS)]

    @property
    def min_bars(self) -> int:
        """Fewest raw bars `decide` accepts (feature warm-up + window + 3)."""
        return self.lookback + self.config.env.window + 3

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str | torch.device = "cpu") -> ModelPackage:
        """A run folder used like a package (no manifest; its calibration when present)."""
        from regime_trader.api import load_policy

        run_dir = Path(run_dir)
        cfg, net, scaler = load_policy(run_dir, resolve_device(str(device)))
        rule = read_rule(run_dir / mf.CALIBRATION)
        spec_ = _read_json(run_dir / mf.FEATURES)
        meta = {"name": run_dir.name, "version": "0.0.0", "source": "run folder"}
        return cls(cfg, net, scaler, rule, meta, run_dir, int(spec_.get("lookback", 0)))  # type: ignore[arg-type]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable JSON ({type(exc).__name__})") from None


def read_rule(path: Path) -> DecisionRule:
    """The `DecisionRule` in ``path``, or the identity rule when there is no such file."""
    if not path.is_file():
        return DecisionRule()
    return DecisionRule.from_dict(_read_json(path), source=str(path))


def _build_net(cfg: Config, folder: Path, n_features: int, device: torch.device) -> nn.Module:
    net = build_net(cfg.agent, cfg.env.window, n_features)
    try:
        weights = load_file(str(folder / mf.WEIGHTS))
        net.load_state_dict(weights)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{folder / mf.WEIGHTS}: weights do not fit the network ({first})"
        ) from None
    return net.to(device).eval()


def load(path: str | Path, device: str | torch.device = "cpu") -> ModelPackage:
    """Load a model package written by `regime-trader package` (every hash checked).

    Args:
        path: the package folder.
        device: ``"cpu"``, ``"cuda[:N]"`` or ``"auto"``.

    Raises:
        ConfigError: one line on a tampered, truncated, incomplete or incompatible package.

    Examples:
        >>> import regime_trader
        >>> pkg = regime_trader.load("models/spx-mlp")  # doctest: +SKIP
        >>> pkg.decide(bars).tail(1)  # doctest: +SKIP
    """
    folder = Path(path)
    mf.verify(folder)
    cfg = Config.from_dict(_read_json(folder / mf.CONFIG), source=str(folder / mf.CONFIG))
    features = _read_json(folder / mf.FEATURES)
    try:
        scaler = Scaler.from_dict(features["scaler"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{folder / mf.FEATURES}: no valid scaler") from None
    dev = resolve_device(str(device))
    net = _build_net(cfg, folder, len(scaler.names), dev)
    rule = read_rule(folder / mf.CALIBRATION)
    meta = _read_json(folder / mf.METADATA)
    return ModelPackage(cfg, net, scaler, rule, meta, folder, int(features.get("lookback", 0)))
