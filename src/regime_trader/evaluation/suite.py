"""`regime-trader evaluate`: trained runs and baselines over a scenario suite, one accounting.

Suite parts (the ``kind`` column of the tidy table):

* ``synthetic``: every regime generator x seeds, scored against the generator's TRUE labels;
* ``real``: the held-out test period of each series given (the run's own split rules);
* ``stress``: the worst buy-and-hold drawdown episode inside that test period.

Every policy of a part trades the same decision timestamps (the common span of the runs'
windows), so rows pair by (series, window, seed). A run with ``calibration.json`` appears
twice: greedy (``NAME``) and calibrated (``NAME+cal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from regime_trader.config import Config
from regime_trader.envs.market import MarketData
from regime_trader.errors import ConfigError, DataError
from regime_trader.evaluation.backtest import decision_range, greedy_backtest
from regime_trader.evaluation.calibrate import CALIBRATION_FILE, load_rule
from regime_trader.evaluation.decisions import DecisionRule
from regime_trader.evaluation.metrics import bars_per_year, drawdown
from regime_trader.evaluation.rows import baseline_results, policy_rows, return_rows
from regime_trader.scenarios import SCENARIO_KINDS, generate
from regime_trader.training.prepare import prepare

SCENARIO_BARS = 1500


@dataclass(frozen=True)
class Policy:
    """A trained net and the rule it decides with."""

    name: str
    cfg: Config
    net: nn.Module
    scaler: object
    rule: DecisionRule


def load_policies(runs: Sequence[str | Path], device: torch.device) -> list[Policy]:
    """Policies of run folders (``NAME=PATH`` names one; default: the folder's name)."""
    from regime_trader.api import load_policy  # api imports evaluation: import late

    out: list[Policy] = []
    for spec_ in runs:
        name, _, path = str(spec_).rpartition("=") if "=" in str(spec_) else ("", "", str(spec_))
        run = Path(path)
        if not (run / "config.yaml").is_file():
            raise ConfigError(f"{run}: not a run folder (no config.yaml); train one first")
        cfg, net, scaler = load_policy(run, device)
        name = name or run.name
        out.append(Policy(name, cfg, net, scaler, DecisionRule()))
        if (run / CALIBRATION_FILE).is_file():
            out.append(Policy(f"{name}+cal", cfg, net, scaler, load_rule(run)))
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"two runs share a name in {names}; name them NAME=PATH")
    return out


def agent_policies(original: Path, regime_aware: Path, device: torch.device) -> list[Policy]:
    """``original``, ``regime_aware`` and (with its ``calibration.json``) ``calibrated``: the
    three agents the demo and every walk-forward job compare."""
    pols = load_policies([f"original={original}", f"regime_aware={regime_aware}"], device)
    return [replace(p, name="calibrated") if p.name.endswith("+cal") else p for p in pols]


def check_scenarios(names: Sequence[str]) -> tuple[str, ...]:
    """Validated scenario kinds (a `ConfigError` naming the unknown one and the choices)."""
    bad = [n for n in names if n not in SCENARIO_KINDS]
    if bad:
        raise ConfigError(
            f"--scenarios: unknown scenario {bad[0]!r}; choose from {', '.join(SCENARIO_KINDS)}"
        )
    return tuple(names)


def _prepared(policy: Policy, frame: pd.DataFrame, source: str, split: bool):
    cfg = policy.cfg.override(data={"source": source, "start": None, "end": None})
    if split and source != policy.cfg.data.source:
        cfg = cfg.override(data={"train_end": None, "val_end": None})
    dev = next(policy.net.parameters()).device
    return prepare(cfg, ohlcv=frame, scaler=policy.scaler, split=split, device=dev)  # type: ignore[arg-type]


def _span(markets: list[MarketData], policies: list[Policy], lo_ts, hi_ts) -> tuple:
    """The common decision timestamps of every policy's market within ``[lo_ts, hi_ts]``."""
    starts, ends = [], []
    for m, p in zip(markets, policies, strict=True):
        first, last = decision_range(m, p.cfg.env.window, p.cfg.env.fill, 0, len(m))
        starts.append(max(m.index[first], lo_ts))
        ends.append(min(m.index[last], hi_ts))
    lo, hi = max(starts), min(ends)
    if hi <= lo:
        raise DataError(f"no common decision bars between {lo} and {hi} for these runs")
    return lo, hi


def evaluate_part(
    policies: list[Policy],
    frame: pd.DataFrame,
    *,
    series: str,
    kind: str,
    seed: int,
    window: int = 0,
    true_labels: pd.Series | None = None,
    span: tuple | None = None,
    split: bool = False,
) -> tuple[list[dict], list[pd.DataFrame]]:
    """Rows and step returns of every policy and baseline on one series part."""
    cache: dict[tuple[int, int], MarketData] = {}  # NAME and NAME+cal share one run's features
    for p in policies:
        key = (id(p.cfg), id(p.scaler))
        if key not in cache:
            cache[key] = _prepared(p, frame, series, split).market
    markets = [cache[(id(p.cfg), id(p.scaler))] for p in policies]
    if span is None:
        span = (markets[0].index[0], markets[0].index[-1])
    lo_ts, hi_ts = _span(markets, policies, *span)
    key = {"series": series, "kind": kind, "window": window, "seed": seed}
    rows: list[dict] = []
    rets: list[pd.DataFrame] = []
    cost = policies[0].cfg.env.cost_bps
    m0 = markets[0]
    f0, l0 = int(m0.index.searchsorted(lo_ts)), int(m0.index.searchsorted(hi_ts))
    labels = (
        true_labels.reindex(m0.index[f0 : l0 + 1]).to_numpy()
        if true_labels is not None
        else m0.regimes.cpu().numpy()[f0 : l0 + 1]
    )
    bpy = bars_per_year(m0.index)
    results = baseline_results(m0, f0, l0, cost, seed)
    for p, m in zip(policies, markets, strict=True):
        first, last = int(m.index.searchsorted(lo_ts)), int(m.index.searchsorted(hi_ts))
        results[p.name] = greedy_backtest(p.net, m, first, last, p.cfg.env, p.rule)
    bench = results["buy_and_hold"]
    for name, res in results.items():
        rows += policy_rows(key, name, res, bench, labels, bpy)
        rets.append(return_rows(key, name, res))
    return rows, rets


def worst_drawdown(close: np.ndarray, min_bars: int = 10) -> tuple[int, int] | None:
    """Rows ``(peak, trough)`` of the deepest buy-and-hold drawdown (None if too short)."""
    dd = drawdown(close / close[0])
    trough = int(np.argmax(dd))
    peak = int(np.argmax(close[: trough + 1]))
    return (peak, trough) if trough - peak >= min_bars else None


def synthetic_suite(
    policies: list[Policy], kinds: Sequence[str], seeds: Sequence[int], n_bars: int
) -> tuple[list[dict], list[pd.DataFrame]]:
    """Every scenario kind x seed, scored with the generator's true labels."""
    rows, rets = [], []
    for kind in kinds:
        for seed in seeds:
            frame = generate(kind, n_bars, rng=np.random.default_rng([seed, 11]))
            truth = frame.pop("true_regime")
            r, x = evaluate_part(
                policies, frame, series=kind, kind="synthetic", seed=seed, true_labels=truth
            )
            rows += r
            rets += x
    return rows, rets


def real_suite(
    policies: list[Policy], source: str, seed: int = 0
) -> tuple[list[dict], list[pd.DataFrame]]:
    """The held-out test period of ``source`` and its worst drawdown episode."""
    from regime_trader.data import load_ohlcv

    frame = load_ohlcv(source)
    data = _prepared(policies[0], frame, source, split=True)
    test = data.split.test
    idx = data.market.index
    span = (idx[test.start], idx[test.stop - 1])
    rows, rets = evaluate_part(
        policies, frame, series=source, kind="real", seed=seed, span=span, split=True
    )
    ep = worst_drawdown(data.market.close[test.start : test.stop])
    if ep is not None:
        stress = (idx[test.start + ep[0]], idx[test.start + ep[1]])
        r, x = evaluate_part(
            policies, frame, series=source, kind="stress", seed=seed, span=stress, split=True
        )
        rows += r
        rets += x
    return rows, rets


def evaluate_suite(
    runs: Sequence[str | Path],
    out: str | Path,
    *,
    data: Sequence[str] = (),
    scenarios: str = "all",
    seeds: Sequence[int] = (0, 1, 2),
    n_bars: int = SCENARIO_BARS,
    device: str = "cpu",
) -> pd.DataFrame:
    """`regime-trader evaluate`: write the tidy tables into ``out``; returns the rows."""
    from regime_trader.evaluation.results import write_results
    from regime_trader.utils.device import resolve_device

    kinds: tuple[str, ...] = ()
    if scenarios not in ("none", ""):
        names = SCENARIO_KINDS if scenarios == "all" else scenarios.split(",")
        kinds = check_scenarios([n.strip() for n in names])
    if not kinds and not data:
        raise ConfigError("evaluate: nothing to do; give --scenarios or --data")
    policies = load_policies(runs, resolve_device(device))
    rows, rets = synthetic_suite(policies, kinds, seeds, n_bars) if kinds else ([], [])
    for src in data:
        r, x = real_suite(policies, src)
        rows += r
        rets += x
    frame = pd.DataFrame(rows)
    write_results(out, frame, pd.concat(rets, ignore_index=True))
    return frame
