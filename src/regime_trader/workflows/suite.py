"""`regime-trader evaluate`: trained runs and baselines over a scenario suite, one accounting.

Suite parts (the ``kind`` column of the tidy table):

* ``synthetic``: every regime generator x seeds, scored against the generator's TRUE labels;
* ``real``: the held-out test period of each series given (the run's own split rules);
* ``stress``: the worst buy-and-hold drawdown episode inside that test period.

Every policy of a part trades the same decision timestamps (the common span of the runs'
windows), so rows pair by (series, window, seed). A run with ``calibration.json`` appears
twice: greedy (``NAME``) and calibrated (``NAME+cal``). Features are built once per series
and scaler in a comparison (`Markets`): policies with equal inputs share one `MarketData`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from regime_trader.data import load_ohlcv
from regime_trader.envs.market import MarketData
from regime_trader.errors import ConfigError, DataError
from regime_trader.evaluation.results import write_results
from regime_trader.evaluation.rows import baseline_results, policy_rows, return_rows
from regime_trader.policy.backtest import decision_range
from regime_trader.policy.metrics import bars_per_year, drawdown
from regime_trader.policy.policy import Policy, load_folder
from regime_trader.policy.prepare import Prepared
from regime_trader.scenarios import SCENARIO_KINDS, generate
from regime_trader.utils.device import resolve_device

SCENARIO_BARS = 1500


def load_policies(runs: Sequence[str | Path], device: torch.device) -> list[Policy]:
    """Policies of run folders or packages (``NAME=PATH`` names one; default: the folder's
    name); a calibrated one appears twice, greedy ``NAME`` and calibrated ``NAME+cal``."""
    out: list[Policy] = []
    for spec_ in runs:
        name, _, path = str(spec_).rpartition("=") if "=" in str(spec_) else ("", "", str(spec_))
        run = Path(path)
        if not (run / "config.yaml").is_file() and not (run / "config.json").is_file():
            raise ConfigError(f"{run}: not a run folder (no config.yaml); train one first")
        policy = load_folder(run, device)
        name = name or run.name
        out.append(policy.greedy(name))
        if policy.calibration is not None:  # fitted (kept or not): the pairing needs it
            out.append(policy.named(f"{name}+cal"))
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"two runs share a name in {names}; name them NAME=PATH")
    return out


def agent_policies(original: Path, regime_aware: Path, device: torch.device) -> list[Policy]:
    """``original``, ``regime_aware`` and (when calibrated) ``calibrated``: the three agents
    the demo and every walk-forward job compare."""
    pols = load_policies([f"original={original}", f"regime_aware={regime_aware}"], device)
    return [p.named("calibrated") if p.name.endswith("+cal") else p for p in pols]


def check_scenarios(names: Sequence[str]) -> tuple[str, ...]:
    """Validated scenario kinds (a `ConfigError` naming the unknown one and the choices)."""
    bad = [n for n in names if n not in SCENARIO_KINDS]
    if bad:
        raise ConfigError(
            f"--scenarios: unknown scenario {bad[0]!r}; choose from {', '.join(SCENARIO_KINDS)}"
        )
    return tuple(names)


def input_key(policy: Policy) -> str:
    """What a policy's `MarketData` depends on besides the bars: scaler, features, regimes,
    sizing and bars per year. Policies with equal keys share one build."""
    c = policy.config
    parts = {
        "scaler": policy.scaler.to_dict(),
        "features": c.features.model_dump(mode="json"),
        "regimes": c.regimes.model_dump(mode="json"),
        "env": c.env.model_dump(mode="json", include={"sizing", "vol_window", "target_vol",
                                                       "max_leverage", "fill"}),
        "bpy": policy.bars_per_year,
        "split": c.data.model_dump(mode="json", include={"fractions"}),
    }  # fmt: skip
    return json.dumps(parts, sort_keys=True, default=str)


class Markets:
    """Features built once per (series, bars, split, policy inputs) within a comparison.

    ``builds`` counts the preparations actually run (a test holds it to one per series and
    scaler)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], Prepared] = {}
        self.builds = 0

    @staticmethod
    def _key(policy: Policy, frame: pd.DataFrame, series: str, split: bool) -> tuple[str, ...]:
        span = f"{len(frame)}:{frame.index[0]}:{frame.index[-1]}"
        return (series, span, str(split), input_key(policy))

    def seed(
        self, policy: Policy, frame: pd.DataFrame, series: str, split: bool, data: Prepared
    ) -> None:
        """Reuse ``data`` (e.g. the training preparation) for ``policy`` on these bars."""
        self._cache[self._key(policy, frame, series, split)] = data

    def get(self, policy: Policy, frame: pd.DataFrame, series: str, split: bool) -> Prepared:
        key = self._key(policy, frame, series, split)
        if key not in self._cache:
            self._cache[key] = policy.prepare(frame, source=series, split=split)
            self.builds += 1
        return self._cache[key]


def _span(
    markets: list[MarketData], policies: list[Policy], lo_ts: pd.Timestamp, hi_ts: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The common decision timestamps of every policy's market within ``[lo_ts, hi_ts]``."""
    starts, ends = [], []
    for m, p in zip(markets, policies, strict=True):
        first, last = decision_range(m, p.config.env.window, p.config.env.fill, 0, len(m))
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
    markets: Markets | None = None,
) -> tuple[list[dict], list[pd.DataFrame]]:
    """Rows and step returns of every policy and baseline on one series part."""
    cache = markets if markets is not None else Markets()
    mks = [cache.get(p, frame, series, split).market for p in policies]
    if span is None:
        span = (mks[0].index[0], mks[0].index[-1])
    lo_ts, hi_ts = _span(mks, policies, *span)
    key = {"series": series, "kind": kind, "window": window, "seed": seed}
    rows: list[dict] = []
    rets: list[pd.DataFrame] = []
    cost = policies[0].config.env.cost_bps
    m0 = mks[0]
    f0, l0 = int(m0.index.searchsorted(lo_ts)), int(m0.index.searchsorted(hi_ts))
    labels = (
        true_labels.reindex(m0.index[f0 : l0 + 1]).to_numpy()
        if true_labels is not None
        else m0.regimes.cpu().numpy()[f0 : l0 + 1]
    )
    bpy = bars_per_year(m0.index)
    results = baseline_results(m0, f0, l0, cost, seed)
    for p, m in zip(policies, mks, strict=True):
        first, last = int(m.index.searchsorted(lo_ts)), int(m.index.searchsorted(hi_ts))
        results[p.name] = p.backtest(m, first, last)
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
    policies: list[Policy],
    kinds: Sequence[str],
    seeds: Sequence[int],
    n_bars: int,
    markets: Markets | None = None,
) -> tuple[list[dict], list[pd.DataFrame]]:
    """Every scenario kind x seed, scored with the generator's true labels."""
    rows, rets = [], []
    for kind in kinds:
        for seed in seeds:
            frame = generate(kind, n_bars, rng=np.random.default_rng([seed, 11]))
            truth = frame.pop("true_regime")
            r, x = evaluate_part(
                policies,
                frame,
                series=kind,
                kind="synthetic",
                seed=seed,
                true_labels=truth,
                markets=markets,
            )
            rows += r
            rets += x
    return rows, rets


def real_suite(
    policies: list[Policy], source: str, seed: int = 0, markets: Markets | None = None
) -> tuple[list[dict], list[pd.DataFrame]]:
    """The held-out test period of ``source`` and its worst drawdown episode."""
    markets = markets if markets is not None else Markets()
    frame = load_ohlcv(source)
    data = markets.get(policies[0], frame, source, split=True)
    test = data.split.test
    idx = data.market.index
    span = (idx[test.start], idx[test.stop - 1])
    rows, rets = evaluate_part(
        policies,
        frame,
        series=source,
        kind="real",
        seed=seed,
        span=span,
        split=True,
        markets=markets,
    )
    ep = worst_drawdown(data.market.close[test.start : test.stop])
    if ep is not None:
        stress = (idx[test.start + ep[0]], idx[test.start + ep[1]])
        r, x = evaluate_part(
            policies,
            frame,
            series=source,
            kind="stress",
            seed=seed,
            span=stress,
            split=True,
            markets=markets,
        )
        # its own series name: it shares (series, window, seed) with the test period, and
        # the returns table has no kind to tell the two apart
        name = stress_series(source)
        rows += [{**row, "series": name} for row in r]
        rets += [frame_.assign(series=name) for frame_ in x]
    return rows, rets


def stress_series(source: str) -> str:
    """The series name of ``source``'s stress episode in the tidy tables."""
    return f"{source} (stress)"


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
    kinds: tuple[str, ...] = ()
    if scenarios not in ("none", ""):
        names = SCENARIO_KINDS if scenarios == "all" else scenarios.split(",")
        kinds = check_scenarios([n.strip() for n in names])
    if not kinds and not data:
        raise ConfigError("evaluate: nothing to do; give --scenarios or --data")
    policies = load_policies(runs, resolve_device(device))
    markets = Markets()
    rows, rets = synthetic_suite(policies, kinds, seeds, n_bars, markets) if kinds else ([], [])
    for src in data:
        r, x = real_suite(policies, src, markets=markets)
        rows += r
        rets += x
    frame = pd.DataFrame(rows)
    write_results(out, frame, pd.concat(rets, ignore_index=True))
    return frame
