"""The public verbs: `train_run`, `backtest_run`, `demo_run`, `load_policy`, `feature_frame`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from regime_trader.config import Budget, Config
from regime_trader.data import (
    load_ohlcv,  # noqa: F401 (re-exported for the CLI)
)
from regime_trader.data.split_report import load_split
from regime_trader.envs.market import MarketData
from regime_trader.errors import ConfigError, DataError
from regime_trader.evaluation.evaluate import (
    Evaluation,
    decision_bounds,
    evaluate_period,
    in_sample_note,
    period_rows,
    write_outputs,
)
from regime_trader.frames import feature_frame  # noqa: F401 (public verb)
from regime_trader.nets import build_net
from regime_trader.overrides import apply_sets
from regime_trader.training import TrainResult, prepare, train
from regime_trader.training.checkpoint import load_run
from regime_trader.utils.device import resolve_device
from regime_trader.utils.threads import compute_threads


def load_config(
    path: str | Path | None,
    *,
    data: str | None = None,
    seed: int | None = None,
    budget: Budget | None = None,
    net: str | None = None,
    sets: Sequence[str] = (),
) -> Config:
    """Config from YAML (or defaults) with command-line overrides applied.

    ``sets`` (``section.field=value``, see `regime_trader.overrides`) apply last, so they win
    over the named options and the budget.
    """
    cfg = Config.from_yaml(path) if path else Config()
    if net:
        cfg = cfg.override(agent={"net": net})
    if budget:
        cfg = cfg.with_budget(budget)
    if data:
        cfg = cfg.override(data={"source": data})
    if seed is not None:
        cfg = cfg.override(train={"seed": seed})
    return apply_sets(cfg, sets)


def train_run(
    cfg: Config, out: str | Path, *, progress: bool = True, force: bool = False
) -> TrainResult:
    """Train an agent into the run folder ``out``.

    Raises:
        ConfigError: ``out`` already holds a run and ``force`` is False (``force`` deletes the
            old run, its reports and its ``test/``-style report folders first).
    """
    return train(cfg, out, progress=progress, force=force)


def resume_run(run_dir: str | Path, *, progress: bool = True) -> TrainResult:
    """Continue a run killed at any moment from its last checkpoint (same final result)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"cannot resume '{run_dir}': no config.yaml (not a run folder)")
    return train(Config.from_yaml(run_dir / "config.yaml"), run_dir, progress=progress, resume=True)


def load_policy(run_dir: str | Path, device: torch.device) -> tuple[Config, nn.Module, object]:
    """The config, network (eval mode, best validation weights) and scaler of a trained run."""
    cfg, scaler, weights = load_run(run_dir)
    n_features = len(scaler.names)
    net = build_net(cfg.agent, cfg.env.window, n_features)
    net.load_state_dict(weights)
    return cfg, net.to(device).eval(), scaler


def backtest_run(
    run_dir: str | Path,
    source: str,
    out: str | Path,
    *,
    start: str | None = None,
    end: str | None = None,
    device: str = "auto",
) -> Evaluation:
    """Backtest a trained run on ``source`` between two dates; write the results folder."""
    from regime_trader.evaluation.calibrate import load_rule

    dev = resolve_device(device)
    cfg, net, scaler = load_policy(run_dir, dev)
    rule = load_rule(run_dir)  # the run's calibration.json, else the greedy rule
    cfg = cfg.override(data={"source": source, "start": None, "end": None})
    with compute_threads(cfg.train.threads):  # the run's thread limit (torch and BLAS)
        data = prepare(cfg, scaler=scaler, split=False, device=dev)  # type: ignore[arg-type]
        ev = _evaluate_dates(net, data.market, cfg, start, end, rule)
    span = f"{ev.close.index[0].date()} to {ev.close.index[-1].date()}"
    write_outputs(
        ev,
        out,
        title=f"Backtest of {Path(run_dir).name} on {source}, {span}",
        notes=[
            f"Run: {run_dir}",
            f"Costs: {cfg.env.cost_bps} bps; fills: {cfg.env.fill}",
            "Decisions: " + ("calibrated (calibration.json)" if not rule.is_identity else "greedy"),
            *filter(None, [in_sample_note(load_split(run_dir), ev.period, source)]),
        ],
    )
    return ev


def _evaluate_dates(
    net: nn.Module,
    market: MarketData,
    cfg: Config,
    start: str | None,
    end: str | None,
    rule=None,  # noqa: ANN001 - a DecisionRule
) -> Evaluation:
    lo, hi = period_rows(market, start, end)
    try:
        first, last = decision_bounds(market, cfg, lo, hi)
    except ValueError:
        raise DataError(
            f"no bars to trade between {start or 'the start'} and {end or 'the end'} "
            f"(data covers {market.index[0].date()} to {market.index[-1].date()})"
        ) from None
    return evaluate_period(net, market, first, last, cfg, rule)


def demo_run(*args, **kwargs):
    """The main job (`regime_trader.demo.demo_run`): original vs calibrated regime-aware."""
    from regime_trader.demo import demo_run as run

    return run(*args, **kwargs)


def calibrate_run(run_dir: str | Path, *, device: str = "cpu", min_gain: float = 0.05):
    """Fit the run's decision rule on its own validation bars; write ``calibration.json``.

    The rule (uptrend boost, adaptive thresholds, sizing; `evaluation.decisions`) is searched
    on validation only and kept when it beats the greedy policy there by ``min_gain``
    (annualised Sharpe), else the identity rule is saved (``kept: false``).
    """
    from regime_trader.evaluation.calibrate import (
        Calibration,
        fit_rule,
        save_calibration,
        weights_digest,
    )

    run_dir = Path(run_dir)
    dev = resolve_device(device)
    cfg, net, scaler = load_policy(run_dir, dev)
    with compute_threads(cfg.train.threads):
        data = prepare(cfg, scaler=scaler, device=dev)  # type: ignore[arg-type]
        val = data.split.val
        first, last = decision_bounds(data.market, cfg, val.start, val.stop)
        rule, greedy, chosen, sharpes, scale = fit_rule(
            net, data.market, first, last, cfg, min_gain=min_gain
        )
    idx = data.market.index
    cal = Calibration(
        rule,
        greedy,
        chosen,
        scale=scale,
        weights_sha256=weights_digest(run_dir),
        period={"start": str(idx[first]), "end": str(idx[last])},
        trial_sharpes=tuple(sharpes),
    )
    save_calibration(run_dir, cal)
    return cal
