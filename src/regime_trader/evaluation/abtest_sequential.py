"""Sequential A/B test for paper trading: group-sequential looks with alpha spending.

Peeking at a growing record and stopping at the first ``p < 0.05`` inflates the false
positive rate far above 5%. Here the looks are planned in advance (``looks`` equally spaced
checkpoints up to ``max_periods`` paired periods) and each look spends part of ``alpha`` by
a Lan-DeMets spending function (O'Brien-Fleming type by default: almost nothing early, close
to ``alpha`` at the end; Pocock type optional). The two-sided boundaries ``c_k`` solve

    P(|Z_1| < c_1, ..., |Z_{k-1}| < c_{k-1}, |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1})

under H0, with ``Z_k`` the standardised cumulative mean difference (Brownian motion in the
information fraction ``t_k``), by numerical integration on a grid (Armitage, McPherson and
Rowe 1969; Jennison and Turnbull 2000, ch. 19). The test stops early only when a planned
look crosses its boundary; after the last look without a crossing it stops with "no
difference". The per-look statistic uses a Newey-West (HAC) standard error, since period
returns are serially dependent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
from scipy import optimize
from scipy.stats import norm

from regime_trader.errors import ConfigError

Spending = Literal["obrien-fleming", "pocock"]


def alpha_spent(t: np.ndarray | float, alpha: float, spending: Spending) -> np.ndarray:
    """Cumulative two-sided alpha spent at information fraction(s) ``t`` in (0, 1].

    A symmetric two-sided test spends ``alpha / 2`` per side, each side by the Lan-DeMets
    function (the convention of gsDesign and ldbounds): O'Brien-Fleming type
    ``a(t) = 2 - 2 Phi(z_{1 - a/2} / sqrt(t))`` with ``a = alpha / 2``; Pocock type
    ``a log(1 + (e - 1) t)``.
    """
    t = np.clip(np.asarray(t, dtype=np.float64), 1e-12, 1.0)
    side = alpha / 2.0
    if spending == "obrien-fleming":
        return 2.0 * (2.0 - 2.0 * norm.cdf(norm.isf(side / 2.0) / np.sqrt(t)))
    if spending == "pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    raise ConfigError(f"spending must be 'obrien-fleming' or 'pocock', got '{spending}'")


def _weights(x: np.ndarray) -> np.ndarray:
    w = np.full(x.size, x[1] - x[0])
    w[[0, -1]] /= 2.0
    return w


def _next_bound(
    x: np.ndarray, f: np.ndarray, t_prev: float, t_k: float, target: float, grid: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """Boundary at look k spending ``target``, and the new continuation grid and density."""
    s = math.sqrt(t_k - t_prev)
    mass = _weights(x) * f

    def cross(c: float) -> float:
        edge = c * math.sqrt(t_k)
        return float(mass @ (norm.sf((edge - x) / s) + norm.cdf((-edge - x) / s)))

    c = 40.0 if target <= 1e-15 else optimize.brentq(lambda c: cross(c) - target, 0.0, 40.0)
    edge = c * math.sqrt(t_k)
    y = np.linspace(-edge, edge, grid)
    return float(c), y, mass @ norm.pdf((y[None, :] - x[:, None]) / s) / s


def spending_boundaries(
    fractions: np.ndarray | list[float],
    alpha: float = 0.05,
    spending: Spending = "obrien-fleming",
    grid: int = 1201,
) -> np.ndarray:
    """Two-sided z boundaries ``[K]`` at increasing information fractions in (0, 1]."""
    t = np.asarray(fractions, dtype=np.float64)
    if t.size == 0 or np.any(np.diff(t) <= 0) or t[0] <= 0 or t[-1] > 1:
        raise ConfigError("information fractions must increase within (0, 1]")
    increments = np.diff(np.concatenate([[0.0], alpha_spent(t, alpha, spending)]))
    bounds = [float(norm.isf(increments[0] / 2.0))]
    x = np.linspace(-bounds[0] * math.sqrt(t[0]), bounds[0] * math.sqrt(t[0]), grid)
    f = norm.pdf(x, scale=math.sqrt(t[0]))  # sub-density of B(t_1) where the test went on
    for k in range(1, t.size):
        c, x, f = _next_bound(x, f, t[k - 1], t[k], increments[k], grid)
        bounds.append(c)
    return np.asarray(bounds)


def hac_z(d: np.ndarray) -> float:
    """``mean(d) / se`` with a Newey-West (Bartlett) standard error of the mean."""
    d = np.asarray(d, dtype=np.float64)
    n = d.size
    e = d - d.mean()
    lags = int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))
    lrv = float(e @ e) / n
    for lag in range(1, min(lags, n - 1) + 1):
        lrv += 2.0 * (1.0 - lag / (lags + 1.0)) * float(e[lag:] @ e[:-lag]) / n
    if lrv <= 1e-300:
        return 0.0 if abs(d.mean()) <= 1e-15 else math.copysign(math.inf, d.mean())
    return float(d.mean() / math.sqrt(lrv / n))


@dataclass(frozen=True)
class SequentialPlan:
    """Planned looks: ``looks`` equally spaced checkpoints up to ``max_periods`` pairs."""

    max_periods: int
    looks: int = 5
    alpha: float = 0.05
    spending: Spending = "obrien-fleming"

    def __post_init__(self) -> None:
        if self.looks < 1 or self.max_periods < 10 * self.looks:
            raise ConfigError(
                f"a sequential plan needs >= 1 look and >= 10 periods per look, got "
                f"{self.looks} looks over {self.max_periods} periods"
            )
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must lie in (0, 1), got {self.alpha}")

    @cached_property
    def look_sizes(self) -> list[int]:
        """Paired periods at each look."""
        return [round(self.max_periods * k / self.looks) for k in range(1, self.looks + 1)]

    @cached_property
    def boundaries(self) -> np.ndarray:
        fractions = np.asarray(self.look_sizes) / self.max_periods
        return spending_boundaries(fractions, self.alpha, self.spending)


@dataclass(frozen=True)
class SequentialResult:
    """Where a sequential test stands on the record so far."""

    decision: Literal["challenger better", "champion better", "no difference", "continue"]
    stopped: bool
    look: int  # looks evaluated so far (0: the first look is not reached yet)
    periods: int  # periods the decision rests on
    z: float | None
    boundary: float | None
    next_look_at: int | None  # periods needed for the next look (None once stopped)
    z_history: list[float] = field(default_factory=list)


def sequential_test(
    champion: np.ndarray, challenger: np.ndarray, plan: SequentialPlan
) -> SequentialResult:
    """Evaluate every planned look the paired record has reached (oldest first).

    Args:
        champion, challenger: per-period returns of the two models over the same periods
            (the paper-trading record, growing); only the first ``max_periods`` count.
        plan: the looks and the spending rule, fixed before the first period.
    """
    a, b = np.asarray(champion, np.float64), np.asarray(challenger, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ConfigError(f"paired records differ in length: {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ConfigError("paired records contain NaN or inf returns")
    d = (b - a)[: plan.max_periods]
    zs: list[float] = []
    for k, (n_k, c_k) in enumerate(zip(plan.look_sizes, plan.boundaries, strict=True), start=1):
        if d.size < n_k:
            return SequentialResult("continue", False, k - 1, d.size, None, None, n_k, zs)
        z = hac_z(d[:n_k])
        zs.append(z)
        if abs(z) >= c_k:
            if z > 0:
                return SequentialResult("challenger better", True, k, n_k, z, float(c_k), None, zs)
            return SequentialResult("champion better", True, k, n_k, z, float(c_k), None, zs)
    last = plan.boundaries[-1]
    return SequentialResult(
        "no difference", True, plan.looks, plan.look_sizes[-1], zs[-1], float(last), None, zs
    )
