"""One decision rule for every place a trained net acts: backtests, packages, the service.

A `DecisionRule` is the calibration fitted on validation (`regime_trader.calibration`):

1. **Uptrend boost** (the plan's `UptrendCalibrator`): the buy score is raised by
   ``boost * clamp((p_up - threshold) / (1 - threshold), 0, 1)`` in units of
   ``q / temperature``.
2. **Adaptive thresholds** (the plan's `AdaptiveThresholdOptimizer`, with its thresholds
   defined): the best action ``a*`` is taken only when its score beats holding by more than
   ``base[a*] + sum_k p_k * regime_mod[k][a*]``; otherwise the agent holds (keeps its
   position). ``p`` is the net's regime-detector softmax, or a one-hot of the causal rule
   label for nets without a detector.
3. **Position sizing**: ``sizing="confidence"`` holds ``side * size`` with
   ``size = max(min_size, floor_to_step(2 * sigma(s_buy - s_sell) - 1))`` for a long side
   (the probability-to-size rule of bet sizing, on the calibrated scores; the mirror for a
   short side); ``"full"`` holds the side itself.

The identity rule (`DecisionRule()`) is the greedy argmax policy, so an uncalibrated run and
a calibrated one go through the same code. Every function works on leading dimensions
``[...]``: the backtest calls it on ``[T, P]`` (every bar, every position state), the
streaming service on ``[1]``; both get the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from regime_trader.envs import spec
from regime_trader.errors import ConfigError
from regime_trader.regimes import REGIME_NAMES

N_REGIMES = len(REGIME_NAMES)
UPTREND = REGIME_NAMES.index("uptrend")
DOWNTREND = REGIME_NAMES.index("downtrend")
SIZINGS = ("full", "confidence")


def _zeros_mod() -> tuple[tuple[float, ...], ...]:
    return tuple((0.0,) * spec.N_ACTIONS for _ in range(N_REGIMES))


@dataclass(frozen=True)
class DecisionRule:
    """Calibration applied to Q-values at every decision (JSON via `to_dict`/`from_dict`).

    Attributes:
        base: per-action score margin over hold needed to act ``(hold, sell, buy)``.
        regime_mod: ``[K][A]`` additions to ``base`` weighted by regime probabilities.
        boost: uptrend boost of the buy score (>= 0).
        threshold: uptrend probability below which there is no boost, in ``[0, 1)``.
        temperature: scores are ``q / temperature`` (> 0).
        sizing: ``"full"`` or ``"confidence"``.
        size_step: sizes are floored to multiples of this (limits turnover), in ``(0, 1]``.
        min_size: smallest size of a held side, in ``(0, 1]``.
    """

    base: tuple[float, ...] = (0.0, 0.0, 0.0)
    regime_mod: tuple[tuple[float, ...], ...] = field(default_factory=_zeros_mod)
    boost: float = 0.0
    threshold: float = 0.5
    temperature: float = 1.0
    sizing: str = "full"
    size_step: float = 0.25
    min_size: float = 0.25

    def __post_init__(self) -> None:
        problems = []
        if len(self.base) != spec.N_ACTIONS:
            problems.append(f"base needs {spec.N_ACTIONS} values, got {len(self.base)}")
        mod = np.asarray(self.regime_mod, dtype=float)
        if mod.shape != (N_REGIMES, spec.N_ACTIONS):
            problems.append(f"regime_mod needs shape [{N_REGIMES}][{spec.N_ACTIONS}]")
        if self.boost < 0:
            problems.append(f"boost must be >= 0, got {self.boost}")
        if not 0.0 <= self.threshold < 1.0:
            problems.append(f"threshold must be in [0, 1), got {self.threshold}")
        if self.temperature <= 0:
            problems.append(f"temperature must be > 0, got {self.temperature}")
        if self.sizing not in SIZINGS:
            problems.append(f"sizing must be one of {SIZINGS}, got {self.sizing!r}")
        if not (0 < self.size_step <= 1 and 0 < self.min_size <= 1):
            problems.append("size_step and min_size must be in (0, 1]")
        if problems:
            raise ConfigError("calibration: " + "; ".join(problems))

    @property
    def is_identity(self) -> bool:
        """Whether this rule is the plain greedy policy."""
        return self == DecisionRule()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (lists, floats)."""
        d = asdict(self)
        d["base"] = [float(x) for x in self.base]
        d["regime_mod"] = [[float(x) for x in row] for row in self.regime_mod]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "calibration") -> DecisionRule:
        """Rebuild from `to_dict` output; a `ConfigError` naming ``source`` on a bad file."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)}")
        d = dict(data)
        if "base" in d:
            d["base"] = tuple(float(x) for x in d["base"])
        if "regime_mod" in d:
            d["regime_mod"] = tuple(tuple(float(x) for x in row) for row in d["regime_mod"])
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {exc}") from None


def scores(q: np.ndarray, probs: np.ndarray, rule: DecisionRule) -> np.ndarray:
    """Calibrated action scores ``[..., A]``: ``q / temperature`` plus the uptrend boost."""
    s = np.asarray(q, dtype=np.float64) / rule.temperature
    if rule.boost > 0:
        p_up = np.asarray(probs, dtype=np.float64)[..., UPTREND]
        bonus = rule.boost * np.clip((p_up - rule.threshold) / (1.0 - rule.threshold), 0, 1)
        s = s.copy()
        s[..., spec.BUY] += bonus
    return s


def rule_actions(q: np.ndarray, probs: np.ndarray, rule: DecisionRule) -> np.ndarray:
    """Actions ``[...]`` from Q-values ``[..., A]`` and regime probabilities ``[..., K]``.

    ``probs`` broadcasts against ``q``'s leading dimensions (e.g. ``[T, 1, K]`` for ``[T, P, A]``).
    """
    s = scores(q, probs, rule)
    best = s.argmax(axis=-1)
    if not any(rule.base) and not np.any(rule.regime_mod):  # no margins: plain argmax
        return best
    gap = np.take_along_axis(s, best[..., None], axis=-1)[..., 0] - s[..., spec.HOLD]
    margin = np.asarray(rule.base)[best] + _regime_margin(probs, best, rule)
    return np.where((best == spec.HOLD) | (gap > margin), best, spec.HOLD)


def _regime_margin(probs: np.ndarray, best: np.ndarray, rule: DecisionRule) -> np.ndarray:
    mod = np.asarray(rule.regime_mod, dtype=np.float64)  # [K, A]
    per_action = np.asarray(probs, dtype=np.float64) @ mod  # [..., A]
    per_action = np.broadcast_to(per_action, (*best.shape, spec.N_ACTIONS))
    return np.take_along_axis(per_action, best[..., None], axis=-1)[..., 0]


def position_sizes(
    q: np.ndarray, probs: np.ndarray, side: np.ndarray, rule: DecisionRule
) -> np.ndarray:
    """Held notional ``side * size`` per decision (``q`` ``[..., A]`` at the side held)."""
    side = np.asarray(side, dtype=np.float64)
    if rule.sizing == "full":
        return side
    s = scores(q, probs, rule)
    p_buy = 1.0 / (1.0 + np.exp(-(s[..., spec.BUY] - s[..., spec.SELL])))
    conviction = np.where(side > 0, 2 * p_buy - 1, 1 - 2 * p_buy)
    size = np.floor(np.clip(conviction, 0, 1) / rule.size_step + 1e-9) * rule.size_step
    return side * np.maximum(rule.min_size, size)


def regime_probabilities(logits: np.ndarray | None, labels: np.ndarray) -> np.ndarray:
    """``[T, K]`` regime probabilities: the detector's softmax, or a one-hot of the causal
    rule labels (uniform where the label is unknown) for nets without a detector."""
    if logits is not None:
        z = np.asarray(logits, dtype=np.float64)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)
    labels = np.asarray(labels, dtype=np.int64)
    out = np.full((len(labels), N_REGIMES), 1.0 / N_REGIMES)
    known = labels >= 0
    out[known] = np.eye(N_REGIMES)[labels[known]]
    return out
