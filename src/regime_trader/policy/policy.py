"""`Policy`: a trained net, its scaler and its decision rule, loaded from a run or a package.

One object for every consumer: backtest, calibrate, evaluate, walk-forward, abtest,
package, the service and paper trading all hold a `Policy` and call its `market`, `path`
and `backtest` (which go through `policy.backtest`: one scorer, one walk, one accounting,
sizing applied once). A run folder and a package folder hold the same files
(``features.json``, ``model.safetensors``, ``calibration.json``; the config as
``config.yaml`` in a run, ``config.json`` in a package), read by the same functions here, and
``calibration.json`` is checked against the weights' sha256 in both.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from torch import nn

from regime_trader.config import Config
from regime_trader.data.split_report import load_split, same_source
from regime_trader.data.validation import validate_ohlcv
from regime_trader.envs.market import MarketData
from regime_trader.errors import ConfigError
from regime_trader.features import Scaler
from regime_trader.nets import build_net
from regime_trader.policy.backtest import BacktestResult, DecisionPath, backtest_net, policy_path
from regime_trader.policy.calibration import CALIBRATION_FILE, Calibration, parse_calibration
from regime_trader.policy.prepare import Prepared, prepare
from regime_trader.policy.rule import DecisionRule
from regime_trader.regimes import REGIME_NAMES
from regime_trader.utils.dates import utc
from regime_trader.utils.device import resolve_device

RUN_CONFIG, PACKAGE_CONFIG = "config.yaml", "config.json"
ACTION_NAMES = ("hold", "sell", "buy")
DECISION_COLUMNS: tuple[str, ...] = (
    "action",
    "side",
    "position",
    *(f"q_{name}" for name in ACTION_NAMES),
    *(f"p_{name}" for name in REGIME_NAMES),
)
"""Columns of `Policy.decide`, one row per decision bar."""
FEATURES, WEIGHTS = "features.json", "model.safetensors"


@dataclass(eq=False)
class Policy:
    """A trained policy ready to decide.

    Attributes:
        config: the run's config (features, regimes and env sections drive decisions).
        net: the Q-network in eval mode.
        scaler: feature names and standardisation fitted on the training split.
        rule: the decision rule (`DecisionRule()`, the greedy policy, when uncalibrated).
        calibration: the ``calibration.json`` record behind ``rule`` (None: uncalibrated).
        lookback: the feature warm-up in bars.
        bars_per_year: the annualisation of the training data (vol-target sizes use it on
            any slice of bars, so a 60-bar request sizes like the backtest).
        metadata: ``metadata.json`` of a package (name, version, ...); a run's name.
        path: the folder it was loaded from.
        label: the name in a comparison table (default: `name`).
    """

    config: Config
    net: nn.Module
    scaler: Scaler
    rule: DecisionRule = field(default_factory=DecisionRule)
    calibration: Calibration | None = None
    lookback: int = 0
    bars_per_year: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    label: str | None = None
    # serving state (`serve.model.attach_lock`): one forward at a time, torch threads
    _torch_lock: threading.Lock | None = field(default=None, init=False, repr=False)
    _threads: int = field(default=1, init=False, repr=False)

    @property
    def name(self) -> str:
        """Comparison label, else ``metadata["name"]``, else the folder's name."""
        default = self.path.name if self.path else "model"
        return self.label or str(self.metadata.get("name", default))

    @property
    def version(self) -> str:
        """Semantic version of the model (``metadata["version"]``; runs: 0.0.0)."""
        return str(self.metadata.get("version", "0.0.0"))

    @property
    def feature_names(self) -> list[str]:
        return list(self.scaler.names)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def calibrated(self) -> bool:
        """Whether decisions go through a fitted rule other than the greedy one."""
        return not self.rule.is_identity

    @property
    def min_bars(self) -> int:
        """Fewest raw bars `decide` accepts (feature warm-up + window + 3)."""
        return self.lookback + self.config.env.window + 3

    def selected_until(self, source: str) -> pd.Timestamp | None:
        """The last bar of ``source`` this policy trained or was selected (validated,
        calibrated) on, from its ``split.json`` (a package's ``metadata["split"]``); None
        when it never saw ``source`` or the split is not known."""
        split = self.metadata.get("split")
        if split is None and self.path is not None:
            split = load_split(self.path)
        if not split or not same_source(str(split.get("source", "")), source):
            return None
        end = (split.get("val") or {}).get("end") or (split.get("train") or {}).get("end")
        if end is None:
            return None
        return utc(end)

    def decision_rule(self) -> DecisionRule:
        """The decision rule every decision of this policy goes through."""
        return self.rule

    def greedy(self, label: str | None = None) -> Policy:
        """The same net deciding greedily (the identity rule)."""
        return replace(self, rule=DecisionRule(), calibration=None, label=label or self.label)

    def named(self, label: str) -> Policy:
        """This policy under another comparison label."""
        return replace(self, label=label)

    def prepare(self, bars: pd.DataFrame, *, source: str = "bars", split: bool = False) -> Prepared:
        """Features, regimes and `MarketData` of raw OHLCV ``bars`` (validated first) with
        this policy's scaler and bars per year. With ``split`` (another series than the
        run's own) the split is by fractions, as the run's split rules say."""
        frame = validate_ohlcv(bars, source=source)
        cfg = self.config.override(data={"source": source, "start": None, "end": None})
        if split and source != self.config.data.source:
            cfg = cfg.override(data={"train_end": None, "val_end": None})
        return prepare(
            cfg,
            ohlcv=frame,
            scaler=self.scaler,
            split=split,
            device=self.device,
            bars_per_year=self.bars_per_year,
        )

    def decisions(self, market: MarketData, first: int, last: int) -> DecisionPath:
        """Decisions over bars ``first..last`` of ``market`` (flat start)."""
        return policy_path(self.net, market, first, last, self.config.env, self.rule)

    def backtest(self, market: MarketData, first: int, last: int) -> BacktestResult:
        """Backtest over decision bars ``first..last`` (flat start, sized, costs paid)."""
        return backtest_net(self.net, market, first, last, self.config.env, self.rule)

    def path_on(self, bars: pd.DataFrame) -> tuple[DecisionPath, pd.DatetimeIndex]:
        """The decision path over every bar of ``bars`` with a full window (flat start)."""
        market = self.prepare(bars).market
        first, last = self.config.env.window - 1, len(market) - 1
        return self.decisions(market, first, last), market.index[first : last + 1]

    def decide(self, bars: pd.DataFrame) -> pd.DataFrame:
        """The decision at the close of every bar of ``bars`` that has a full window.

        Starts flat at the first such bar, like a backtest over the same bars, so the
        decisions and positions equal `backtest`'s; the last row is the decision for the
        next bar (no future bar is needed).

        Args:
            bars: OHLCV frame (see `validate_ohlcv`), at least `min_bars` rows.

        Returns:
            Frame indexed by decision timestamp with `DECISION_COLUMNS`.
        """
        path, index = self.path_on(bars)
        return decision_frame(path, index)


class _Files:
    """The files of a folder, from disk or from bytes a verifier already checked (a package:
    nothing is re-read from disk after its hashes were checked)."""

    def __init__(self, folder: Path, verified: Mapping[str, bytes] | None) -> None:
        self.folder, self.verified = folder, verified

    def has(self, name: str) -> bool:
        if self.verified is not None:
            return name in self.verified
        return (self.folder / name).is_file()

    def read(self, name: str) -> bytes:
        if self.verified is not None:
            return self.verified[name]
        try:
            return (self.folder / name).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"{self.folder / name}: not readable ({type(exc).__name__})"
            ) from None

    def json(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads(self.read(name).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(
                f"{self.folder / name}: not readable JSON ({type(exc).__name__})"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.folder / name}: expected a JSON object")
        return data


def _read_features(files: _Files) -> tuple[Scaler, int, float | None]:
    spec = files.json(FEATURES)
    try:
        scaler = Scaler.from_dict(spec["scaler"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{files.folder / FEATURES}: no valid scaler") from None
    bpy = spec.get("bars_per_year")
    return scaler, int(spec.get("lookback", 0)), None if bpy is None else float(bpy)


def _build_net(
    cfg: Config, files: _Files, n_features: int, device: torch.device
) -> tuple[nn.Module, str]:
    """The network with the folder's weights, and the weights' sha256."""
    raw = files.read(WEIGHTS)
    net = build_net(cfg.agent, cfg.env.window, n_features)
    where = files.folder / WEIGHTS
    try:
        net.load_state_dict(load_safetensors(raw))
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{where}: weights do not fit the network ({first})") from None
    return net.to(device).eval(), hashlib.sha256(raw).hexdigest()


def _read_config(files: _Files) -> Config:
    if files.has(PACKAGE_CONFIG):
        return Config.from_dict(
            files.json(PACKAGE_CONFIG), source=str(files.folder / PACKAGE_CONFIG)
        )
    return Config.from_yaml(files.folder / RUN_CONFIG)


def read_config(folder: Path) -> Config:
    """The config of a run folder (``config.yaml``) or a package (``config.json``)."""
    return _read_config(_Files(Path(folder), None))


def load_folder(
    folder: str | Path,
    device: str | torch.device = "cpu",
    *,
    metadata: dict[str, Any] | None = None,
    check_calibration: bool = True,
    verified: Mapping[str, bytes] | None = None,
) -> Policy:
    """The `Policy` in a run folder or a package folder.

    ``verified``: the bytes of a package's files as its manifest check read them (`load`), so
    nothing is read again from disk; None reads the folder. ``check_calibration=False``
    ignores ``calibration.json`` (greedy; for re-calibrating).

    Raises:
        ConfigError: a missing file (naming it and what to run), a config, scaler or
            weights that do not load, or a calibration fitted on other weights.
    """
    folder = Path(folder)
    files = _Files(folder, verified)
    config = PACKAGE_CONFIG if files.has(PACKAGE_CONFIG) else RUN_CONFIG
    for name in (config, FEATURES, WEIGHTS):
        if not files.has(name):
            raise ConfigError(
                f"'{folder}' is not a trained run folder or package: '{name}' missing "
                "(run `regime-trader train --out DIR` first)"
            )
    cfg = _read_config(files)
    scaler, lookback, bpy = _read_features(files)
    net, digest = _build_net(cfg, files, len(scaler.names), resolve_device(str(device)))
    cal = None
    if check_calibration and files.has(CALIBRATION_FILE):
        source, weights = str(folder / CALIBRATION_FILE), str(folder / WEIGHTS)
        cal = parse_calibration(
            files.read(CALIBRATION_FILE), digest, source=source, weights=weights
        )
    rule = cal.rule if cal is not None else DecisionRule()
    meta = metadata if metadata is not None else {"name": folder.name, "source": "run folder"}
    return Policy(cfg, net, scaler, rule, cal, lookback, bpy, meta, folder)


def decision_frame(path: DecisionPath, index: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per decision: action, side, position, Q-values and regime probabilities."""
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


@dataclass(frozen=True)
class Unseen:
    """Where the bars no policy of a comparison trained or was selected on begin."""

    first: pd.Timestamp  # the first such decision bar (``env.window`` bars after ``seen``)
    seen: pd.Timestamp  # the last bar some policy trained or was selected on
    who: str  # that policy's name


def first_unseen(policies: Sequence[Policy], source: str, index: pd.DatetimeIndex) -> Unseen | None:
    """The out-of-sample start on ``source`` for every policy at once (`selected_until`,
    plus the largest ``env.window`` as an embargo); None when none of them saw ``source``."""
    ends = [(e, p.name) for p in policies if (e := p.selected_until(source)) is not None]
    if not ends:
        return None
    seen, who = max(ends)
    embargo = max(p.config.env.window for p in policies)
    pos = min(int(index.searchsorted(seen, "right")) + embargo, len(index) - 1)
    return Unseen(index[pos], seen, who)


def check_out_of_sample(
    command: str, start: str | None, unseen: Unseen | None, allow_in_sample: bool
) -> bool:
    """Whether ``start`` lies in sample (before ``unseen.first``), refused unless
    ``allow_in_sample``.

    Raises:
        ConfigError: one line naming the policy, its last seen bar and the first start
            allowed, and ``--allow-in-sample``.
    """
    if unseen is None or start is None or utc(start) >= unseen.first:
        return False
    if allow_in_sample:
        return True
    raise ConfigError(
        f"{command}: --start {start} is inside the bars {unseen.who} trained or was selected "
        f"on (to {unseen.seen.date()}, split.json); use --start {unseen.first.date()} or "
        "later, or pass --allow-in-sample (the result is labelled in-sample)"
    )
