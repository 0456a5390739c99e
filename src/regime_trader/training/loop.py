"""`train(cfg)`: seed → build → collect and learn → validate → checkpoint, top to bottom."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from regime_trader.agents import DQNAgent, linear_epsilon
from regime_trader.agents.exploration import epsilon_greedy
from regime_trader.config import Config
from regime_trader.data.split_report import format_split, save_split
from regime_trader.envs.vector_env import VectorTradingEnv
from regime_trader.nets import build_net
from regime_trader.policy.backtest import backtest_net, decision_range, policy_metrics
from regime_trader.policy.prepare import Prepared, prepare, split_summary
from regime_trader.replay import ReplayBuffer, beta_schedule, build_replay
from regime_trader.training import checkpoint as ckpt
from regime_trader.training.curriculum import (
    CurriculumData,
    CurriculumTrainingSchedule,
    build_curriculum,
)
from regime_trader.training.run_folder import RunFolder
from regime_trader.training.tracking import config_params
from regime_trader.training.tracking_background import start_tracker
from regime_trader.utils.device import resolve_device
from regime_trader.utils.progress import TrainProgress
from regime_trader.utils.seeding import make_generators
from regime_trader.utils.threads import scoped_compute

EvalCallback = Callable[[int, dict[str, Any]], None]
clock = time.monotonic  # the wall-clock checkpoint's timer (tests replace it)


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports."""

    run_dir: Path
    best_val_sharpe: float
    env_steps: int  # of the whole run (a resumed run: including the steps done before)
    updates: int  # of the whole run
    seconds: float  # of this call's training loop
    resumed_from: int = 0  # env steps already done when this call started (resume)

    @property
    def steps_this_call(self) -> int:
        """Env steps taken by this call (``env_steps`` less those done before a resume)."""
        return self.env_steps - self.resumed_from

    @property
    def steps_per_second(self) -> float:
        """This call's env steps per second of this call's time."""
        return self.steps_this_call / max(self.seconds, 1e-9)


@dataclass
class Counters:
    """Loop position; saved in checkpoints so a resumed run continues exactly."""

    steps: int = 0
    updates: int = 0
    owed: float = 0.0
    next_eval: int = 0
    best: float = -np.inf
    loss: float = float("nan")
    stage: int = -1
    log: list[str] = field(default_factory=list)


def validate(agent: DQNAgent, data: Prepared, cfg: Config) -> dict[str, float]:
    """Greedy backtest of the online network on the validation split (+ regime accuracy)."""
    first, last = decision_range(
        data.market, cfg.env.window, cfg.env.fill, data.split.val.start, data.split.val.stop
    )
    return policy_metrics(backtest_net(agent.net, data.market, first, last, cfg.env), data.market)


@scoped_compute
def train(
    cfg: Config,
    out_dir: str | Path,
    *,
    data: Prepared | None = None,
    progress: bool = True,
    on_eval: EvalCallback | None = None,
    resume: bool = False,
    force: bool = False,
    init_weights: Mapping[str, torch.Tensor] | None = None,
) -> TrainResult:
    """Train a double-DQN agent on the training split; keep the weights with the best
    validation Sharpe in ``out_dir/model.safetensors``.

    A checkpoint (network, target, optimizer, replay, env and RNG states, counters) is
    written atomically after every validation and every ``train.checkpoint_seconds``;
    ``resume=True`` continues from it and ends with the same result as an uninterrupted run.
    ``on_eval(step, record)`` is called after each validation (a tuner may raise from it to
    prune the trial).

    ``out_dir`` must not hold a run unless ``resume`` or ``force`` (which deletes the old
    run first); a call that fails before its first checkpoint leaves nothing behind
    (training/run_folder.py). ``init_weights`` (a state dict of the same network, e.g. a
    trained run's ``model.safetensors``) starts the online and target networks from those
    weights instead of a fresh initialisation (fine-tuning, training/finetune.py); a resume
    restores its checkpoint over them.

    Raises:
        ConfigError: ``out_dir`` holds a run (and neither ``resume`` nor ``force``), or
            ``resume`` with another config.

    Examples:
        >>> from regime_trader.config import Config
        >>> result = train(Config().with_budget("tiny"), "runs/tiny")  # doctest: +SKIP
    """
    folder = RunFolder.claim(out_dir, cfg, resume=resume, force=force)
    with folder.removed_on_failure():
        return _train(cfg, folder, data, progress, on_eval, init_weights)


def _train(
    cfg: Config,
    folder: RunFolder,
    data: Prepared | None,
    progress: bool,
    on_eval: EvalCallback | None,
    init_weights: Mapping[str, torch.Tensor] | None = None,
) -> TrainResult:
    """`train`'s recipe, top to bottom: build → collect and learn → validate → checkpoint."""
    run_dir = folder.path
    tc, ac = cfg.train, cfg.agent
    # 1. build (seeding and thread limits: `scoped_compute`, restored on return)
    device = resolve_device(tc.device)
    rng, gen = make_generators(tc.seed, device)
    data = data or prepare(cfg, device=device)
    split = split_summary(data, cfg)
    save_split(run_dir, split)  # split.json: the dates and bar counts actually used
    if progress:
        print(format_split(split), flush=True)
    market, curriculum = data.market, None
    if cfg.curriculum.enabled:
        curriculum = build_curriculum(cfg, data, rng)
        market = curriculum.market
    env = VectorTradingEnv(
        market, cfg.env, tc.n_envs, generator=gen,
        start=data.split.train.start, end=data.split.train.stop - 3, reward=cfg.reward,
    )  # fmt: skip
    net = build_net(ac, cfg.env.window, market.n_features).to(device)
    if init_weights is not None:  # continue from given weights (the target copies them)
        net.load_state_dict(init_weights)
    agent = DQNAgent(net, ac)
    buffer = build_replay(cfg.replay, market, cfg.env.window, ac.buffer_size, gen)
    c = Counters(next_eval=tc.eval_every)
    if folder.resume:
        c = ckpt.restore(run_dir, cfg, agent=agent, env=env, buffer=buffer, generator=gen)
    else:
        ckpt.save_run_spec(run_dir, cfg, data.scaler, data.features.lookback, data.bars_per_year)
    schedule = CurriculumTrainingSchedule(tc.total_steps, cfg.curriculum.stage_fractions)
    if curriculum is not None and c.stage >= 0:
        _set_stage(env, curriculum, schedule, c.stage)
    eps_steps = int(ac.eps_fraction * tc.total_steps)
    tracker = start_tracker(cfg.tracking, run_dir, run_dir.resolve().name, resume=folder.resume)
    # 2. collect and learn
    with tracker, TrainProgress(tc.total_steps, enabled=progress) as bar:
        tracker.log_params(config_params(cfg))
        if folder.resume:
            tracker.log_metrics({"train/resumed_from": c.steps}, step=c.steps)
        started, resumed_from = time.perf_counter(), c.steps  # steps/s excludes tracker set-up
        saved_at = clock()
        bar.update(c.steps)
        while c.steps < tc.total_steps:
            if curriculum is not None and schedule.stage_index(c.steps) != c.stage:
                c.stage = schedule.stage_index(c.steps)
                _set_stage(env, curriculum, schedule, c.stage)
                env.reset()
                c.log.append(
                    json.dumps(
                        {"env_steps": c.steps, "curriculum/stage": schedule.stages[c.stage].name}
                    )
                )
                bar.update(c.steps, stage=schedule.stages[c.stage].name)
            eps = linear_epsilon(c.steps, start=ac.eps_start, end=ac.eps_end, duration=eps_steps)
            window, state = env.observe()
            action = epsilon_greedy(agent.q_values(window, state), eps, gen)
            buffer.add(env.step(action))
            c.steps += tc.n_envs
            loss = _learn(agent, buffer, c, cfg)
            # 3. validate, log, keep the best, checkpoint (also every checkpoint_seconds)
            if c.steps >= c.next_eval or c.steps >= tc.total_steps:
                c.loss = float(loss) if loss is not None else c.loss
                on_real = curriculum is None or schedule.stages[c.stage].real_data
                record = _evaluate(agent, data, cfg, c, eps, run_dir, selectable=on_real)
                tracker.log_metrics(record, step=c.steps)
                ckpt.save_checkpoint(run_dir, ckpt.training_state(c, agent, env, buffer, gen))
                saved_at = clock()
                bar.update(c.steps, eps=eps, loss=c.loss, val_sharpe=record["eval/val_sharpe"])
                if on_eval is not None:
                    on_eval(c.steps, record)
            else:
                bar.update(c.steps, eps=eps)
                if tc.checkpoint_seconds and clock() - saved_at >= tc.checkpoint_seconds:
                    ckpt.save_checkpoint(run_dir, ckpt.training_state(c, agent, env, buffer, gen))
                    saved_at = clock()
        for name in (ckpt.CONFIG, ckpt.FEATURES, ckpt.WEIGHTS, ckpt.LOG):
            tracker.log_artifact(run_dir / name)
    seconds = time.perf_counter() - started
    return TrainResult(run_dir, float(c.best), c.steps, c.updates, seconds, resumed_from)


def _set_stage(
    env: VectorTradingEnv, data: CurriculumData, schedule: CurriculumTrainingSchedule, index: int
) -> None:
    """Point the env at a curriculum stage's segments and transaction cost."""
    stage = schedule.stages[index]
    cost = None if stage.transaction_cost is None else stage.transaction_cost * 1e4
    env.set_segments(data.segments[index], cost)


def _learn(agent: DQNAgent, buffer: ReplayBuffer, c: Counters, cfg: Config) -> torch.Tensor | None:
    """Gradient steps owed at this point (``n_envs / train_freq`` per iteration)."""
    if c.steps < cfg.agent.learning_starts:
        return None
    loss = None
    c.owed += cfg.train.n_envs / cfg.agent.train_freq
    n = int(c.owed)
    c.owed -= n
    rc = cfg.replay
    beta = beta_schedule(c.steps, cfg.train.total_steps, rc.beta_start, rc.beta_end)
    for batch in buffer.batches(n, cfg.agent.batch_size, beta):
        loss, td_abs = agent.update(batch)
        buffer.update_priorities(batch.indices, td_abs)
    c.updates += n
    return loss


def _evaluate(
    agent: DQNAgent,
    data: Prepared,
    cfg: Config,
    c: Counters,
    eps: float,
    run_dir: Path,
    *,
    selectable: bool = True,
) -> dict[str, Any]:
    """Validate, append to ``train_log.jsonl`` and save the weights if they are the best.

    ``selectable`` is False in a curriculum stage on synthetic bars only: such a network is
    validated and logged but never kept, so the kept model has trained on real bars (the
    last stage is the real series, and the last validation is always in it)."""
    c.next_eval += cfg.train.eval_every
    val = validate(agent, data, cfg)
    record: dict[str, Any] = {
        "env_steps": c.steps,
        "updates": c.updates,
        "epsilon": eps,
        "train/td_loss": c.loss,
        "eval/val_sharpe": val["sharpe"],
        "eval/val_total_return": val["total_return"],
    }
    if "regime_accuracy" in val:
        record["eval/val_regime_accuracy"] = val["regime_accuracy"]
    if c.stage >= 0:
        record["curriculum/stage"] = c.stage
        record["curriculum/selectable"] = selectable
    c.log.append(json.dumps(record))
    ckpt.write_log(run_dir, c.log)
    if selectable and val["sharpe"] > c.best:
        c.best = val["sharpe"]
        ckpt.save_weights(run_dir, agent.net)
    return record
