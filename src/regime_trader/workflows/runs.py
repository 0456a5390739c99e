"""The run verbs: `load_config`, `train_run`, `resume_run`, `backtest_run`, `calibrate_run`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from regime_trader.config import Budget, Config
from regime_trader.data import load_ohlcv
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
from regime_trader.overrides import apply_sets
from regime_trader.policy.calibration import (
    Calibration,
    fit_rule,
    save_calibration,
    weights_digest,
)
from regime_trader.policy.policy import Policy, load_folder
from regime_trader.policy.prepare import Prepared, prepare
from regime_trader.training import TrainResult, train
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


def backtest_run(
    run_dir: str | Path,
    source: str,
    out: str | Path,
    *,
    start: str | None = None,
    end: str | None = None,
    device: str = "auto",
    greedy: bool = False,
) -> Evaluation:
    """Backtest a trained run on ``source`` between two dates; write the results folder.

    Decisions use the run's ``calibration.json`` when it has one (``greedy``: the plain
    argmax policy instead); the report's notes say which rule and sizing were used."""

    policy = load_folder(run_dir, resolve_device(device))
    if greedy:
        policy = policy.greedy()
    cfg = policy.config
    with compute_threads(cfg.train.threads):  # the run's thread limit (torch and BLAS)
        market = policy.prepare(load_ohlcv(source), source=source).market
        ev = _evaluate_dates(policy, market, start, end)
    span = f"{ev.close.index[0].date()} to {ev.close.index[-1].date()}"
    write_outputs(
        ev,
        out,
        title=f"Backtest of {Path(run_dir).name} on {source}, {span}",
        notes=[
            f"Run: {run_dir}",
            f"Costs: {cfg.env.cost_bps} bps; fills: {cfg.env.fill}",
            f"Decisions: {decision_label(policy)}",
            *filter(None, [in_sample_note(load_split(run_dir), ev.period, source)]),
        ],
    )
    return ev


def decision_label(policy: Policy) -> str:
    """The decision rule and sizing a result used, in words (terminal and report)."""
    rule = "calibrated (calibration.json)" if policy.calibrated else "greedy"
    env = policy.config.env
    sizing = "full" if env.sizing == "full" else f"{env.sizing} {env.target_vol:.0%}"
    if policy.rule.sizing != "full":
        sizing += f" x {policy.rule.sizing}"
    return f"{rule}; sizing {sizing}"


def _evaluate_dates(
    policy: Policy, market: MarketData, start: str | None, end: str | None
) -> Evaluation:
    lo, hi = period_rows(market, start, end)
    try:
        first, last = decision_bounds(market, policy.config, lo, hi)
    except ValueError:
        raise DataError(
            f"no bars to trade between {start or 'the start'} and {end or 'the end'} "
            f"(data covers {market.index[0].date()} to {market.index[-1].date()})"
        ) from None
    return evaluate_period(policy, market, first, last)


def calibrate_run(
    run_dir: str | Path,
    *,
    device: str = "cpu",
    min_gain: float = 0.05,
    data: Prepared | None = None,
) -> Calibration:
    """Fit the run's decision rule on its own validation bars; write ``calibration.json``.

    The rule (uptrend boost, adaptive thresholds, sizing; `evaluation.decisions`) is searched
    on validation only and kept when it beats the greedy policy there by ``min_gain``
    (annualised Sharpe), else the identity rule is saved (``kept: false``).
    """
    run_dir = Path(run_dir)
    policy = load_folder(run_dir, resolve_device(device), check_calibration=False)
    cfg = policy.config
    with compute_threads(cfg.train.threads):
        if data is None:  # else: the preparation the run trained on (same split, scaler)
            data = prepare(
                cfg, scaler=policy.scaler, device=policy.device, bars_per_year=policy.bars_per_year
            )
        val = data.split.val
        first, last = decision_bounds(data.market, cfg, val.start, val.stop)
        fit = fit_rule(policy.net, data.market, first, last, cfg, min_gain=min_gain)
    idx = data.market.index
    cal = Calibration(
        fit.rule,
        fit.greedy_sharpe,
        fit.sharpe,
        scale=fit.scale,
        weights_sha256=weights_digest(run_dir),
        period={"start": str(idx[first]), "end": str(idx[last])},
        trial_sharpes=tuple(fit.trial_sharpes),
        val_capture_greedy=fit.greedy_capture,
        val_capture=fit.capture,
    )
    save_calibration(run_dir, cal)
    return cal
