"""What a live model is compared with: validation bands, training drift and regime references.

Every alarm level is calibrated on data where nothing changed (`calibrate`): the bands on
every window of the model's validation path, the drift limits and regime-share ranges on
every window of the training *and* validation features and labels. Give the validation
features and labels (``val_features``, ``val_regimes``) so that replaying the validation
period raises no alert; without them the levels come from the training split alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from regime_trader.errors import ConfigError
from regime_trader.monitoring.bands import Band, expected_bands
from regime_trader.monitoring.calibrate import MARGIN
from regime_trader.monitoring.drift import DriftReference
from regime_trader.monitoring.regime_mix import RegimeReference


@dataclass(frozen=True)
class MonitorConfig:
    """Windows and levels of the checks (docs/monitoring.md)."""

    window: int = 63  # bars in the rolling metrics (a quarter of daily bars)
    check_every: int = 21
    margin: float = MARGIN  # widening beyond the extreme calibration window (calibrate.py)
    bars_per_year: float = 252.0
    collapse_share: float = 0.98  # one position held over this share of the window
    latency_ms: float = 50.0  # p99 decision latency budget
    drift_window: int = 250  # latest live rows of each drift check
    long_factor: int = 4  # action collapse and regime mix look at long_factor * window bars

    @property
    def long_window(self) -> int:
        """Bars of the regime-mix and action-collapse checks."""
        return self.long_factor * self.window


def top_share(positions: np.ndarray) -> float:
    """Share of the most held position (rounded to 1e-6)."""
    p = np.round(np.asarray(positions, np.float64), 6)
    if p.size == 0:
        return 0.0
    return float(np.unique(p, return_counts=True)[1].max() / p.size)


def _drift(
    features: np.ndarray | None,
    names: list[str] | None,
    val: np.ndarray | None,
    cfg: MonitorConfig,
) -> DriftReference | None:
    if features is None:
        return None
    rows = len(features) + (0 if val is None else len(val))
    if max(len(features), 0 if val is None else len(val)) < cfg.drift_window:
        raise ConfigError(
            f"drift_window: the drift reference needs a split of >= {cfg.drift_window} feature "
            f"rows, got {rows} in train and validation; lower drift_window"
        )
    names = list(names or [f"f{j}" for j in range(np.asarray(features).shape[1])])
    return DriftReference.calibrate(
        features, names, window=cfg.drift_window, validation=val, margin=cfg.margin
    )


def _regimes(
    labels: np.ndarray | None, val: np.ndarray | None, cfg: MonitorConfig
) -> RegimeReference | None:
    if labels is None:
        return None
    try:
        return RegimeReference.calibrate(
            np.asarray(labels), window=cfg.long_window, validation=val, margin=cfg.margin
        )
    except ValueError:
        raise ConfigError(
            f"long_factor: no {cfg.long_window}-bar window of labelled training bars for the "
            "regime-mix check; lower long_factor or window"
        ) from None


@dataclass
class Expectations:
    """Bands, drift and regime references, and the validation's most held position share."""

    bands: dict[str, Band]
    drift: DriftReference | None = None
    regimes: RegimeReference | None = None
    top_share: float | None = None

    @property
    def names(self) -> list[str]:
        """Feature names of the drift reference."""
        return [] if self.drift is None else self.drift.names

    @classmethod
    def from_validation(
        cls,
        returns: np.ndarray,
        positions: np.ndarray,
        cfg: MonitorConfig = MonitorConfig(),
        *,
        features: np.ndarray | None = None,
        names: list[str] | None = None,
        regimes: np.ndarray | None = None,
        val_features: np.ndarray | None = None,
        val_regimes: np.ndarray | None = None,
    ) -> Expectations:
        """Calibrate every check (see the module docstring).

        Args:
            returns, positions: the model's validation path (step returns, positions held).
            cfg: windows and margin.
            features, names: raw training features ``[N, F]`` (float32, as `FeatureSet`).
            regimes: training regime labels ``[N]``.
            val_features, val_regimes: the same for the validation split.

        Raises:
            ConfigError: a split too short for the windows (the message names the field).
        """
        try:
            bands = expected_bands(
                returns,
                positions,
                window=cfg.window,
                bars_per_year=cfg.bars_per_year,
                margin=cfg.margin,
            )
        except ValueError as exc:
            raise ConfigError(f"window: {exc}; lower --window") from None
        return cls(
            bands,
            _drift(features, names, val_features, cfg),
            _regimes(regimes, val_regimes, cfg),
            top_share(positions),
        )

    def to_json(self) -> str:
        """JSON of every reference (bins, limits, ranges: no training rows)."""
        return json.dumps(
            {
                "bands": {k: asdict(b) for k, b in self.bands.items()},
                "drift": None if self.drift is None else self.drift.to_dict(),
                "regimes": None if self.regimes is None else self.regimes.to_dict(),
                "top_share": self.top_share,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Expectations:
        """Inverse of `to_json`."""
        d: dict[str, Any] = json.loads(text)
        drift = None if d.get("drift") is None else DriftReference.from_dict(d["drift"])
        regimes = None if d.get("regimes") is None else RegimeReference.from_dict(d["regimes"])
        bands = {k: Band(**b) for k, b in d["bands"].items()}
        return cls(bands, drift, regimes, d.get("top_share"))
