"""Fit a run's decision rule on its validation bars; save and load ``calibration.json``.

The plan's week 8 (uptrend calibration, adaptive thresholds) as one search: the net scores
every validation bar for every position once (one batched pass), then each candidate
`DecisionRule` is only a prefix-scan walk and a vectorised accounting (well under a
millisecond per candidate), so a grid of a few hundred rules costs seconds.

Units: scores are ``q / scale`` where ``scale`` is the standard deviation of the validation
Q-gap ``q[buy] - q[sell]``, so margins and the boost are in those units and one grid serves
nets whose Q-values differ in size.
Selection is on the validation Sharpe only; the rule is kept only when it beats the greedy
policy there by ``min_gain``, and ``trials`` (the grid size) is saved for the deflated Sharpe.
The rule is tied to the weights it was fitted on (their sha256): loading it beside other
weights is refused.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from torch import nn

from regime_trader.config import Config
from regime_trader.envs import spec
from regime_trader.envs.market import MarketData
from regime_trader.errors import ConfigError
from regime_trader.policy.backtest import (
    DecisionPath,
    bar_size,
    score_all_positions,
    simulate,
    walk_policy,
)
from regime_trader.policy.metrics import bars_per_year, capture_ratio, compute_metrics
from regime_trader.policy.rule import (
    DOWNTREND,
    UPTREND,
    DecisionRule,
    regime_probabilities,
)
from regime_trader.utils.io import atomic_write_json, sha256_file

CALIBRATION_FILE = "calibration.json"
WEIGHTS_FILE = "model.safetensors"

GRID: dict[str, tuple[float, ...]] = {
    "boost": (0.0, 0.5, 1.0, 2.0),  # uptrend buy boost (scale units)
    "threshold": (0.3, 0.6),  # uptrend probability where the boost starts
    "margin": (0.0, 0.25, 0.5, 1.0),  # base margin over hold to trade (scale units)
    "sell_up": (0.0, 1.0),  # extra margin to sell in an uptrend
    "buy_down": (0.0, 1.0),  # extra margin to buy in a downtrend
}
SIZINGS: tuple[str, ...] = ("full", "confidence")


@dataclass(frozen=True)
class Calibration:
    """A fitted rule and the validation evidence for it."""

    rule: DecisionRule
    val_sharpe_greedy: float
    val_sharpe: float
    scale: float
    weights_sha256: str
    period: dict[str, str]
    trial_sharpes: tuple[float, ...]  # validation Sharpe of every candidate (for the DSR)
    val_capture_greedy: float | None = None  # validation uptrend capture, greedy / kept rule
    val_capture: float | None = None

    @property
    def trials(self) -> int:
        """Candidate rules tried (every one counts in the deflated Sharpe)."""
        return len(self.trial_sharpes)

    @property
    def kept(self) -> bool:
        """Whether a rule other than the greedy one was kept."""
        return not self.rule.is_identity

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.to_dict(),
            "val_sharpe_greedy": self.val_sharpe_greedy,
            "val_sharpe": self.val_sharpe,
            "trials": self.trials,
            "kept": self.kept,
            "scale": self.scale,
            "weights_sha256": self.weights_sha256,
            "period": self.period,
            "trial_sharpes": list(self.trial_sharpes),
            "val_capture_greedy": self.val_capture_greedy,
            "val_capture": self.val_capture,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> Calibration:
        """Rebuild from `to_dict` output (``calibration.json``); one line naming ``source``."""
        try:
            rule = DecisionRule.from_dict(data["rule"], source=source)
            return cls(
                rule,
                float(data["val_sharpe_greedy"]),
                float(data["val_sharpe"]),
                float(data["scale"]),
                str(data["weights_sha256"]),
                {k: str(v) for k, v in dict(data["period"]).items()},
                tuple(float(x) for x in data.get("trial_sharpes", ())),
                _optional(data.get("val_capture_greedy")),
                _optional(data.get("val_capture")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{source}: not a calibration file (missing or bad {exc}); "
                "re-run `regime-trader calibrate RUN`"
            ) from None


def _optional(x: object) -> float | None:
    return None if x is None else float(x)  # type: ignore[arg-type]


def candidate_rules(scale: float) -> list[DecisionRule]:
    """Every distinct rule of the grid, the greedy (identity) rule first.

    Scores are ``q / scale`` (``temperature = scale``), so margins and the boost are in units
    of the validation Q-gap's standard deviation. A grid point that acts like the greedy
    policy (no margin, no boost, full sizing) is the identity rule itself.
    """
    rules = [DecisionRule()]
    for values in itertools.product(*GRID.values(), SIZINGS):
        *numbers, sizing = values
        g = {k: float(cast(float, v)) for k, v in zip(GRID, numbers, strict=True)}
        if not any(g[k] for k in GRID if k != "threshold") and sizing == "full":
            continue  # the greedy policy
        mod = np.zeros((4, spec.N_ACTIONS))
        mod[UPTREND, spec.SELL] = g["sell_up"]
        mod[DOWNTREND, spec.BUY] = g["buy_down"]
        rules.append(
            DecisionRule(
                base=(0.0, g["margin"], g["margin"]),
                regime_mod=tuple(tuple(r) for r in mod),
                boost=g["boost"],
                threshold=g["threshold"] if g["boost"] else 0.5,  # moot without a boost
                temperature=scale,
                sizing=str(sizing),
            )
        )
    return list(dict.fromkeys(rules))


MIN_CAPTURE = 0.9
"""A kept rule must capture at least ``min(MIN_CAPTURE, greedy's)`` of the validation
uptrends (compounded return over the uptrend bars against buy-and-hold's): calibration may
not buy validation Sharpe by waiting through uptrends."""


@dataclass(frozen=True)
class RuleFit:
    """The outcome of `fit_rule`: the rule kept and the validation evidence."""

    rule: DecisionRule
    greedy_sharpe: float
    sharpe: float
    trial_sharpes: list[float]
    scale: float
    greedy_capture: float | None  # validation uptrend capture (None: uptrends moved < 1%)
    capture: float | None


def _score(
    path: DecisionPath, market: MarketData, first: int, last: int, cost_bps: float, up: np.ndarray
) -> tuple[float, float]:
    """Validation Sharpe and compounded return over the uptrend bars ``up`` of one candidate."""
    res = simulate(market, path.positions, first, last, cost_bps)
    bpy = bars_per_year(market.index)
    sharpe = compute_metrics(res.returns, res.positions, bars_per_year=bpy)["sharpe"]
    return float(sharpe), float(np.prod(1.0 + res.returns[up]) - 1.0)


def fit_rule(
    net: nn.Module,
    market: MarketData,
    first: int,
    last: int,
    cfg: Config,
    *,
    min_gain: float = 0.05,
    min_capture: float = MIN_CAPTURE,
) -> RuleFit:
    """Search `candidate_rules` on decision bars ``first..last`` (validation).

    The best candidate by validation Sharpe among those that capture at least
    ``min(min_capture, greedy's capture)`` of the validation uptrends (no constraint when
    buy-and-hold moved less than 1% over them) is kept when it beats the greedy policy by
    ``min_gain`` (annualised Sharpe); else the identity rule. Every candidate's Sharpe is
    returned for the deflated Sharpe, the excluded ones included.
    """
    t = np.arange(first, last + 1)
    net.eval()
    q_all, logits = score_all_positions(
        net, market, t, cfg.env.window, spec.positions_for(cfg.env.allow_short)
    )
    probs = regime_probabilities(logits, market.regimes.cpu().numpy()[t])
    gap = q_all[..., spec.BUY] - q_all[..., spec.SELL]
    scale = float(np.std(gap)) or 1.0
    rules = candidate_rules(scale)
    size = bar_size(market, t, cfg.env)  # the P&L optimised is the one traded (sized)
    allow_short, cost = cfg.env.allow_short, cfg.env.cost_bps
    up = market.regimes.cpu().numpy()[t] == UPTREND
    scores = np.array(
        [
            _score(
                walk_policy(q_all, probs, allow_short, r, size=size), market, first, last, cost, up
            )
            for r in rules  # a loop over candidates, each one vectorised over bars
        ]
    )
    sharpes, up_returns = scores[:, 0], scores[:, 1]
    hold = simulate(market, np.ones(len(t)), first, last, cost).returns
    bench = float(np.prod(1.0 + hold[up]) - 1.0)
    captures = [capture_ratio(float(r), bench) for r in up_returns]
    floor = min(min_capture, captures[0]) if np.isfinite(captures[0]) else None
    allowed = sharpes.copy()
    if floor is not None:
        allowed[np.asarray(captures) < floor - 1e-9] = -np.inf
    best = int(np.argmax(allowed))
    if allowed[best] < sharpes[0] + min_gain:
        best = 0

    def finite(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return RuleFit(
        rules[best],
        float(sharpes[0]),
        float(sharpes[best]),
        [float(x) for x in sharpes],
        scale,
        finite(captures[0]),
        finite(captures[best]),
    )


def weights_digest(run_dir: str | Path) -> str:
    """sha256 of a run's best weights (ties a calibration to them)."""
    path = Path(run_dir) / WEIGHTS_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no {WEIGHTS_FILE}; train the run first")
    return sha256_file(path)


def save_calibration(run_dir: str | Path, cal: Calibration) -> Path:
    """Write ``calibration.json`` into the run folder (atomically)."""
    return atomic_write_json(Path(run_dir) / CALIBRATION_FILE, cal.to_dict())


def read_calibration(folder: str | Path, weights: str | Path | None = None) -> Calibration | None:
    """``folder/calibration.json`` checked against the weights it was fitted on (None if the
    folder has no calibration). The one reader for run folders and packages.

    Raises:
        ConfigError: a file that does not parse, has bad fields, or was fitted on other
            weights than ``weights`` (default ``folder/model.safetensors``).
    """
    path = Path(folder) / CALIBRATION_FILE
    if not path.is_file():
        return None
    weights = Path(weights) if weights is not None else Path(folder) / WEIGHTS_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: not a calibration file ({type(exc).__name__})") from None
    digest = sha256_file(weights) if weights.is_file() else ""
    return parse_calibration(raw, digest, source=str(path), weights=str(weights))


def parse_calibration(raw: bytes, weights_sha256: str, *, source: str, weights: str) -> Calibration:
    """A ``calibration.json``'s bytes as a `Calibration`, refused unless it was fitted on the
    weights whose sha256 is ``weights_sha256`` (one line naming ``source``)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: not a calibration file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: not a calibration file (expected a JSON object)")
    cal = Calibration.from_dict(data, source=source)
    if cal.weights_sha256 != weights_sha256:
        raise ConfigError(
            f"{source}: fitted on other weights than {weights}; "
            f"re-run `regime-trader calibrate` on the run"
        )
    return cal


def load_rule(run_dir: str | Path, *, required: bool = False) -> DecisionRule:
    """The folder's fitted rule, or the identity rule when it has no ``calibration.json``.

    Raises:
        ConfigError: ``required`` and no file; any error of `read_calibration`.
    """
    cal = read_calibration(run_dir)
    if cal is None:
        if required:
            path = Path(run_dir) / CALIBRATION_FILE
            raise ConfigError(f"{path}: not found; run `regime-trader calibrate {run_dir}`")
        return DecisionRule()
    return cal.rule


TRIALS_FILE = "trials.json"


def write_trials(out_dir: str | Path, run_dirs: list[Path]) -> dict[str, Any] | None:
    """``trials.json`` for the deflated Sharpe: the candidate rules every calibration tried
    (``n_trials``) and each candidate's validation Sharpe averaged over the runs."""
    records = [json.loads((Path(r) / CALIBRATION_FILE).read_text()) for r in run_dirs]
    records = [r for r in records if r.get("trial_sharpes")]
    if not records:
        return None
    n = min(len(r["trial_sharpes"]) for r in records)
    sharpes = np.mean([r["trial_sharpes"][:n] for r in records], axis=0)
    data = {"n_trials": n, "trial_sharpes": [float(x) for x in sharpes], "runs": len(records)}
    atomic_write_json(Path(out_dir) / TRIALS_FILE, data)
    return data


def read_trials(folder: str | Path) -> tuple[int | None, list[float] | None]:
    """``(n_trials, trial_sharpes)`` from a results folder's ``trials.json`` (None if absent)."""
    path = Path(folder) / TRIALS_FILE
    if not path.is_file():
        return None, None
    data = json.loads(path.read_text())
    return int(data["n_trials"]), list(data["trial_sharpes"])
