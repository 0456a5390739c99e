"""A/B test of packaged models (or run folders) on the same windows of the same bars.

The plan's ``ABTestingFramework`` with its flaws fixed: every model gets its own backtest
(its own features, network and decision rule) on the *same* windows, all starting flat;
each window is one batched `backtest_net`, not a bar-by-bar loop; the per-run records
are the tidy evaluation rows (`regime_trader.evaluation.results`), so `stats` and reports
read them; the verdict comes from paired tests with power and Holm (`abtest_power`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from regime_trader.envs import spec
from regime_trader.errors import ConfigError, DataError
from regime_trader.evaluation import abtest_power as ap
from regime_trader.evaluation.results import RESULT_COLUMNS
from regime_trader.evaluation.stats import holm_correction
from regime_trader.policy.backtest import BacktestResult
from regime_trader.policy.metrics import bars_per_year, compute_metrics
from regime_trader.policy.policy import Policy

SUMMARY = "abtest.json"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class ABSettings:
    """How the windows are drawn and the tests judged."""

    runs: int = 10
    window_bars: int | None = (
        None  # default: rolling: usable // runs; random: min(252, usable // 2)
    )
    mode: Literal["rolling", "random"] = "rolling"
    seed: int = 0
    alpha: float = 0.05
    min_effect: float = 0.5  # smallest paired d_z worth detecting (power, runs needed)
    metric: str = "sharpe"
    n_boot: int = 2000
    start: str | None = None
    end: str | None = None
    allow_in_sample: bool = False  # score bars the models trained or were selected on (labelled)


@dataclass
class Model:
    """One contender: its label (``A:name``), package and where it came from."""

    label: str
    package: Policy
    kind: str  # "package" or "run"
    digest: str | None


def check_compatible(models: list[Model]) -> None:
    """Refuse models that would see different inputs or trade differently on one data set."""
    ref = models[0].package
    for m in models[1:]:
        pkg = m.package
        checks = {
            "feature names": (ref.feature_names, pkg.feature_names),
            "features section": (ref.config.features, pkg.config.features),
            "regimes section": (ref.config.regimes, pkg.config.regimes),
            "env.fill": (ref.config.env.fill, pkg.config.env.fill),
            "env.cost_bps": (ref.config.env.cost_bps, pkg.config.env.cost_bps),
        }
        for what, (a, b) in checks.items():
            if a != b:
                raise ConfigError(
                    f"{models[0].label} and {m.label} differ in their {what}: an A/B test on "
                    "one data set needs the same feature spec and execution"
                )


def draw_windows(first: int, last: int, s: ABSettings) -> list[tuple[int, int]]:
    """``runs`` windows ``(first_row, last_row)`` of decision bars within ``[first, last]``."""
    usable = last - first + 1
    if s.mode == "rolling":
        length = s.window_bars or usable // max(s.runs, 1)
        if length * s.runs > usable:
            raise DataError(
                f"{s.runs} rolling windows of {length} bars need more than {usable} bars"
            )
        starts = [first + i * length for i in range(s.runs)]
    elif s.mode == "random":
        length = s.window_bars or min(252, usable // 2)
        if length > usable:
            raise DataError(f"windows of {length} bars do not fit in {usable} decision bars")
        rng = np.random.default_rng(s.seed)
        starts = sorted(int(x) for x in rng.integers(first, last - length + 2, size=s.runs))
    else:
        raise ConfigError(f"--mode must be rolling or random, got '{s.mode}'")
    if length < 20:
        raise DataError(f"windows of {length} bars are too short (need >= 20); use fewer --runs")
    return [(a, a + length - 1) for a in starts]


def _markets(models: list[Model], bars: pd.DataFrame) -> list[Any]:
    markets = [m.package.prepare(bars).market for m in models]
    for m, mk in zip(models[1:], markets[1:], strict=True):
        if not mk.index.equals(markets[0].index):
            raise ConfigError(f"{m.label} builds other bars than {models[0].label}")
    return markets


def _row(
    series: str, w: int, seed: int, label: str, res: BacktestResult, bpy: float
) -> dict[str, Any]:
    metrics = compute_metrics(res.returns, res.positions, bars_per_year=bpy)
    row: dict[str, Any] = {c: np.nan for c in RESULT_COLUMNS}
    row.update({k: metrics[k] for k in metrics if k in RESULT_COLUMNS})
    row.update(
        series=series, kind="real", window=w, seed=seed, policy=label, regime="all",
        start=res.index[0].isoformat(), end=res.index[-1].isoformat(), bars=len(res.returns),
    )  # fmt: skip
    return row


def run_windows(
    models: list[Model], bars: pd.DataFrame, series: str, s: ABSettings
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Backtest every model on every window; the tidy rows, step returns and bars per year."""
    markets = _markets(models, bars)
    index = markets[0].index
    first = max(m.package.config.env.window - 1 for m in models)
    last = spec.last_decision(len(index), models[0].package.config.env.fill)
    lo = int(index.searchsorted(pd.Timestamp(s.start, tz="UTC"))) if s.start else 0
    hi = int(index.searchsorted(pd.Timestamp(s.end, tz="UTC"), "right")) - 1 if s.end else last
    windows = draw_windows(max(first, lo), min(last, hi), s)
    bpy = bars_per_year(index)
    rows, rets = [], []
    for m, market in zip(models, markets, strict=True):
        for w, (a, b) in enumerate(windows):
            res = m.package.backtest(market, a, b)
            rows.append(_row(series, w, s.seed, m.label, res, bpy))
            rets.append(
                pd.DataFrame(
                    {
                        "series": series,
                        "window": w,
                        "seed": s.seed,
                        "policy": m.label,
                        "step": np.arange(len(res.returns)),
                        "timestamp": res.index,
                        "ret": res.returns,
                        "position": res.positions,
                    }
                )  # fmt: skip
            )
    return pd.DataFrame(rows), pd.concat(rets, ignore_index=True), bpy


def _scores(rows: pd.DataFrame, label: str, metric: str) -> np.ndarray:
    return rows[rows["policy"] == label].sort_values("window")[metric].to_numpy(np.float64)


def _returns(rets: pd.DataFrame, label: str) -> np.ndarray:
    sub = rets[rets["policy"] == label].sort_values(["window", "step"])
    return sub["ret"].to_numpy(np.float64)


def compare_all(
    models: list[Model], rows: pd.DataFrame, rets: pd.DataFrame, bpy: float, s: ABSettings
) -> list[dict[str, Any]]:
    """Each challenger against the champion (model A), Holm-adjusted across challengers."""
    champ = models[0].label
    results = []
    for m in models[1:]:
        res = ap.compare(
            _scores(rows, champ, s.metric), _scores(rows, m.label, s.metric),
            _returns(rets, champ), _returns(rets, m.label), periods_per_year=bpy,
            alpha=s.alpha, min_effect=s.min_effect, n_boot=s.n_boot, seed=s.seed,
        )  # fmt: skip
        results.append({"champion": champ, "challenger": m.label, "metric": s.metric, **res})
    pvals = [r["p_value"] for r in results]
    adjusted = pvals if len(pvals) == 1 else list(holm_correction(pvals, s.alpha)["p_holm"])
    for r, p in zip(results, adjusted, strict=True):
        r["p_holm"] = float(p)
        r["verdict"], r["reason"] = ap.verdict(r, float(p), s.alpha)
    return results


def plan_check(alpha: float, min_effect: float, n: int = 10) -> dict[str, Any]:
    """What the plan's 10 runs can detect (paired t approximation)."""
    return {
        "runs": n,
        "detectable_effect": ap.detectable_effect(n, alpha),
        "power_at_min_effect": ap.power(min_effect, n, alpha),
        "runs_needed_min_effect": ap.runs_needed(min_effect, alpha),
    }


def model_entry(m: Model, rows: pd.DataFrame, metric: str) -> dict[str, Any]:
    pkg = m.package
    mine = rows[rows["policy"] == m.label]
    return {
        "label": m.label, "name": pkg.name, "version": pkg.version, "kind": m.kind,
        "path": str(pkg.path), "package_sha256": m.digest,
        "calibrated": not pkg.rule.is_identity,
        f"mean_{metric}": float(mine[metric].mean()),
        "mean_total_return": float(mine["total_return"].mean()),
    }  # fmt: skip
