"""`make demo`: the original agent against the calibrated regime-aware agent, with proof.

1. Train the **original** agent (`presets.ORIGINAL`) into ``runs/<id>/``.
2. Train the **regime-aware** agent (`presets.REGIME_AWARE`) on the same config into
   ``runs/<id>/regime_aware/`` (same budget, seed, bars, envs and update schedule).
3. Fit its decision rule on the validation years (``calibration.json``), never on test.
4. Score original, regime-aware and calibrated with the baselines on the test years and on
   every synthetic scenario (3 seeds, true labels) into ``runs/<id>/verification/``
   (the tidy tables and the verification report, verification.html / .md / .json).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from regime_trader.config import Budget, Config
from regime_trader.data import dataset_split
from regime_trader.evaluation.evaluate import (
    Evaluation,
    decision_bounds,
    evaluate_period,
    split_notes,
    write_outputs,
)
from regime_trader.evaluation.results import write_results
from regime_trader.evaluation.verify import write_verification
from regime_trader.overrides import apply_sets
from regime_trader.policy.calibration import Calibration, read_trials, write_trials
from regime_trader.policy.policy import load_folder
from regime_trader.policy.prepare import Prepared, load_frame, prepare, split_summary
from regime_trader.presets import ORIGINAL, REGIME_AWARE
from regime_trader.scenarios import SCENARIO_KINDS
from regime_trader.training import TrainResult, train
from regime_trader.utils.device import resolve_device
from regime_trader.workflows.runs import calibrate_run
from regime_trader.workflows.suite import Markets, agent_policies, evaluate_part, synthetic_suite

SCENARIO_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced (run folders, test evaluations, the verification rows)."""

    run_dir: Path
    train: TrainResult
    test: Evaluation  # original agent (greedy) on the test years
    seconds: float
    regime_aware: tuple[TrainResult, Evaluation] | None = None  # calibrated decisions
    calibration: Calibration | None = None
    verification: pd.DataFrame | None = None  # tidy rows (`evaluation.results`)


def _train_and_test(
    cfg: Config,
    run_dir: Path,
    data: Prepared,
    dev: torch.device,
    progress: bool,
    label: str,
    calibrate: bool,
) -> tuple[TrainResult, Evaluation, Calibration | None]:
    if progress:
        print(f"training the {label} agent ({cfg.agent.net} net) into {run_dir}", flush=True)
    result = train(cfg, run_dir, data=data, progress=progress)
    cal = calibrate_run(run_dir, device=str(dev), data=data) if calibrate else None
    policy = load_folder(run_dir, dev)
    first, last = decision_bounds(data.market, cfg, data.split.test.start, data.split.test.stop)
    ev = evaluate_period(policy, data.market, first, last)
    notes = [
        *split_notes(split_summary(data, cfg), ev.period, data.split.test.stop - 1 - last),
        f"Agent: {label} ({cfg.agent.net} net, {cfg.reward.kind} reward, {cfg.replay.kind} "
        f"replay, curriculum {'on' if cfg.curriculum.enabled else 'off'}); "
        f"{result.env_steps:,} env steps in {result.seconds:.0f} s "
        f"({result.steps_per_second:,.0f} steps/s); costs {cfg.env.cost_bps} bps.",
    ]
    if cal is not None:
        notes.append(
            f"Decisions calibrated on validation ({cal.period['start'][:10]} to "
            f"{cal.period['end'][:10]}): Sharpe {cal.val_sharpe_greedy:.2f} greedy -> "
            f"{cal.val_sharpe:.2f} over {cal.trials} rules; "
            + ("kept." if cal.kept else "not kept (greedy decisions).")
        )
    span = f"{ev.period['start']} to {ev.period['end']}"
    title = f"regime-trader demo: {label} agent on the S&P 500, test {span}"
    write_outputs(ev, run_dir, title=title, notes=notes)
    return result, ev, cal


def _verification(run_dir: Path, data: Prepared, dev: torch.device) -> pd.DataFrame:
    """Original, regime-aware and calibrated over the test years and every scenario, with
    the training features reused (`Markets`: one build per series and scaler)."""
    pols = agent_policies(run_dir, run_dir / "regime_aware", dev)
    idx = data.market.index
    span = (idx[data.split.test.start], idx[data.split.test.stop - 1])
    frame = load_frame(pols[0].config)
    markets = Markets()
    for p in pols:
        markets.seed(p, frame, "spx", True, data)
    rows, rets = evaluate_part(
        pols, frame, series="spx", kind="real", seed=0, span=span, split=True, markets=markets
    )
    r, x = synthetic_suite(pols, SCENARIO_KINDS, SCENARIO_SEEDS, 1500, markets)
    out = run_dir / "verification"
    table = pd.DataFrame(rows + r)
    write_results(out, table, pd.concat(rets + x, ignore_index=True))
    n_trials, sharpes = (
        read_trials(out) if write_trials(out, [run_dir / "regime_aware"]) else (None, None)
    )
    write_verification(out, out, n_trials=n_trials, trial_sharpes=sharpes, prices=_prices(data))
    return table


def _prices(data: Prepared) -> dict[str, pd.DataFrame]:
    """The test years' closes and rule labels, for the price-by-regime figure."""
    s = data.split.test
    return {
        "spx": pd.DataFrame(
            {"close": data.market.close[s], "regime": data.market.regimes.cpu().numpy()[s]},
            index=data.market.index[s],
        )
    }


def demo_run(
    budget: Budget = "small",
    *,
    out_root: str | Path = "runs",
    seed: int = 0,
    progress: bool = True,
    run_id: str | None = None,
    regime_aware: bool = True,
    sets: Sequence[str] = (),
) -> DemoResult:
    """The main job: train on spx 1999-2012, select and calibrate on 2013-2015, test 2016-2018.

    The split dates are the spx dataset's own (``dataset_split("spx")``); the test backtest
    starts an embargo of ``env.window`` bars after 2015 (2016-02-17) and ends two bars before
    the data (the last fills), as ``split.json`` and the report say. ``sets``
    (``section.field=value``) apply last, to both agents.
    """
    started = time.perf_counter()
    base = Config().override(data=dataset_split("spx"))
    base = base.with_budget(budget).override(train={"seed": seed})
    ocfg = apply_sets(base.override(**ORIGINAL), sets)
    run_dir = Path(out_root) / (run_id or time.strftime(f"demo-%Y%m%d-%H%M%S-{budget}"))
    dev = resolve_device(ocfg.train.device)
    data = prepare(ocfg, device=dev)
    result, ev, _ = _train_and_test(ocfg, run_dir, data, dev, progress, "original", False)
    if not regime_aware:
        return DemoResult(run_dir, result, ev, time.perf_counter() - started)
    rcfg = apply_sets(base.override(**REGIME_AWARE), sets)
    extra = _train_and_test(
        rcfg, run_dir / "regime_aware", data, dev, progress, "regime-aware", True
    )
    table = _verification(run_dir, data, dev)
    return DemoResult(
        run_dir, result, ev, time.perf_counter() - started, extra[:2], extra[2], table
    )
