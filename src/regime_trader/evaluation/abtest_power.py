"""Paired comparison of two models' A/B runs: tests, effect size, power and a verdict.

Built on `regime_trader.evaluation.stats` (sign-flip permutation, stationary bootstrap CI
of the Sharpe difference, Holm); this module adds only what it lacks: the Wilcoxon
signed-rank test (scipy), the paired effect size ``d_z = mean(d) / sd(d)`` and the power of a
paired test (statsmodels' ``TTestPower``, a t approximation of the permutation test).

Verdicts, for a challenger against the champion at family-wise level ``alpha``:

* ``keep`` -- identical results; or the champion is significantly better; or no significant
  difference although the test had >= 80% power at the smallest effect worth having.
* ``promote`` -- the challenger is better on the run-level test (Holm-adjusted p < alpha)
  *and* the bar-level bootstrap CI of the Sharpe difference lies above 0.
* ``inconclusive`` -- too few runs for any test to reach ``alpha``; or not significant and
  under-powered (the runs needed are reported); or the two tests disagree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps
from statsmodels.stats.power import TTestPower

from regime_trader.evaluation.stats import paired_permutation_test, sharpe_difference_ci

TARGET_POWER = 0.8
_TINY = 1e-12


def min_runs(alpha: float = 0.05) -> int:
    """Fewest pairs for which a two-sided sign-flip test can reach ``p < alpha`` (6 at 0.05)."""
    return max(2, math.ceil(math.log2(2.0 / alpha) + 1e-12))


def effect_size(diffs: np.ndarray) -> float:
    """Paired standardised effect ``d_z = mean(d) / sd(d, ddof=1)`` (0 for constant zero d)."""
    d = np.asarray(diffs, dtype=np.float64)
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    if sd <= _TINY:
        return 0.0 if abs(float(d.mean())) <= _TINY else math.copysign(math.inf, d.mean())
    return float(d.mean()) / sd


def power(effect: float, n: int, alpha: float = 0.05) -> float:
    """Power of a two-sided paired t-test with ``n`` pairs at standardised effect ``effect``."""
    if n < 2:
        return 0.0
    if not math.isfinite(effect):
        return 1.0
    return float(TTestPower().power(effect_size=abs(effect), nobs=n, alpha=alpha))


def runs_needed(effect: float, alpha: float = 0.05, target: float = TARGET_POWER) -> int | None:
    """Pairs for ``target`` power at ``effect`` (None for a zero effect: never detectable)."""
    if not abs(effect) > _TINY:
        return None
    if not math.isfinite(effect):
        return min_runs(alpha)
    n = TTestPower().solve_power(effect_size=abs(effect), alpha=alpha, power=target)
    return max(min_runs(alpha), math.ceil(float(np.squeeze(n))))


def detectable_effect(n: int, alpha: float = 0.05, target: float = TARGET_POWER) -> float:
    """Smallest ``|d_z|`` that ``n`` pairs detect with ``target`` power (inf below 2 pairs)."""
    if n < 2:
        return math.inf
    d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=target)
    return float(np.squeeze(d))


def power_summary(n: int, effect: float, min_effect: float, alpha: float) -> dict[str, Any]:
    """Power at the observed and at the smallest interesting effect; runs needed for each."""
    return {
        "observed_effect": effect,
        "power_observed": power(effect, n, alpha),
        "min_effect": min_effect,
        "power_at_min_effect": power(min_effect, n, alpha),
        "runs_needed_min_effect": runs_needed(min_effect, alpha),
        "runs_needed_observed": runs_needed(effect, alpha),
        "detectable_effect": detectable_effect(n, alpha),
    }


def wilcoxon(diffs: np.ndarray, alpha: float = 0.05) -> dict[str, Any] | None:
    """Wilcoxon signed-rank test of paired differences (None when n is too small or d == 0)."""
    d = np.asarray(diffs, dtype=np.float64)
    nonzero = d[np.abs(d) > _TINY]
    if nonzero.size < min_runs(alpha):
        return None
    res = sps.wilcoxon(nonzero, alternative="two-sided")
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue), "n": nonzero.size}


def compare(
    champion: np.ndarray,
    challenger: np.ndarray,
    champion_returns: np.ndarray,
    challenger_returns: np.ndarray,
    *,
    periods_per_year: float,
    alpha: float = 0.05,
    min_effect: float = 0.5,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Tests of ``challenger - champion`` on per-run scores and on the pooled bar returns.

    Args:
        champion, challenger: per-run scores (e.g. Sharpe), paired by run.
        champion_returns, challenger_returns: their step returns over the same bars.
        periods_per_year: bars per year (annualises the bootstrap Sharpe).
        alpha: significance level (before Holm).
        min_effect: smallest ``d_z`` worth detecting (power and runs needed).
        n_boot: bootstrap replicates; seed: seed of every resampling.

    Returns:
        A JSON-ready dict; `verdict` turns it (with a Holm-adjusted p) into a decision.
    """
    a, b = np.asarray(champion, np.float64), np.asarray(challenger, np.float64)
    d = b - a
    out: dict[str, Any] = {"n_runs": int(d.size), "mean_diff": float(d.mean()) if d.size else 0.0}
    out["identical"] = bool(d.size and np.all(np.abs(d) <= _TINY))
    out["p_value"] = 1.0
    if d.size >= 2 and not out["identical"]:
        perm = paired_permutation_test(b, a, seed=seed)
        out["p_value"], out["exact"] = perm.p_value, perm.exact
    out["wilcoxon"] = wilcoxon(d, alpha)
    out["effect_size"] = effect_size(d) if d.size >= 2 else 0.0
    out["power"] = power_summary(d.size, out["effect_size"], min_effect, alpha)
    ra, rb = np.asarray(champion_returns), np.asarray(challenger_returns)
    out["sharpe_ci"] = None
    if ra.size >= 10 and not out["identical"]:
        ci = sharpe_difference_ci(
            rb, ra, periods_per_year=periods_per_year, n_boot=n_boot, seed=seed
        )
        out["sharpe_ci"] = {
            "diff": ci.diff,
            "low": ci.low,
            "high": ci.high,
            "p_value": ci.p_value,
            "block_size": ci.block_size,
        }
    return out


def verdict(result: dict[str, Any], p_adjusted: float, alpha: float = 0.05) -> tuple[str, str]:
    """``(verdict, reason)`` of one comparison (see the module docstring)."""
    n, pw = result["n_runs"], result["power"]
    if result["identical"]:
        return "keep", f"identical results on all {n} runs: nothing to gain"
    if n < min_runs(alpha):
        return "inconclusive", (
            f"too few runs: {n} (a two-sided test at {alpha} needs at least {min_runs(alpha)})"
        )
    ci = result["sharpe_ci"] or {}
    if p_adjusted < alpha and result["mean_diff"] < 0:
        return "keep", f"the champion is better (p={p_adjusted:.3g})"
    if p_adjusted < alpha:
        if ci.get("low", -math.inf) > 0:
            return "promote", (
                f"challenger better on {n} runs (p={p_adjusted:.3g}); Sharpe difference "
                f"{ci['diff']:.2f}, 95% CI [{ci['low']:.2f}, {ci['high']:.2f}]"
            )
        return "inconclusive", (
            f"run-level test significant (p={p_adjusted:.3g}) but the bar-level Sharpe CI "
            "includes 0"
        )
    if pw["power_at_min_effect"] >= TARGET_POWER:
        return "keep", (
            f"no significant difference (p={p_adjusted:.3g}) with "
            f"{pw['power_at_min_effect']:.0%} power at d_z={pw['min_effect']}"
        )
    return "inconclusive", (
        f"not significant (p={p_adjusted:.3g}) and under-powered: {n} runs detect only "
        f"d_z >= {pw['detectable_effect']:.2f} at 80% power; "
        f"{pw['runs_needed_min_effect']} runs needed for d_z={pw['min_effect']}"
    )
