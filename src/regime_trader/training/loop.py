"""`train(cfg)`: seed → build → collect and learn → validate → checkpoint, top to bottom."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from regime_trader.agents import DQNAgent, linear_epsilon
from regime_trader.agents.exploration import epsilon_greedy
from regime_trader.config import Config
from regime_trader.envs.vector_env import VectorTradingEnv
from regime_trader.evaluation.backtest import decision_range, greedy_backtest
from regime_trader.evaluation.evaluate import policy_metrics
from regime_trader.nets import build_net
from regime_trader.replay import ReplayBuffer, beta_schedule, build_replay
from regime_trader.training import checkpoint as ckpt
from regime_trader.training.curriculum import (
    CurriculumData,
    CurriculumTrainingSchedule,
    build_curriculum,
)
from regime_trader.training.prepare import Prepared, prepare
from regime_trader.training.tracking import config_params, make_tracker
from regime_trader.utils.device import resolve_device
from regime_trader.utils.progress import TrainProgress
from regime_trader.utils.seeding import make_generators, seed_everything

EvalCallback = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports."""

    run_dir: Path
    best_val_sharpe: float
    env_steps: int
    updates: int
    seconds: float
    resumed_from: int = 0  # env steps already done when this call started (resume)

    @property
    def steps_per_second(self) -> float:
        """Env steps per second of this call (a resumed run counts only its own steps)."""
        return (self.env_steps - self.resumed_from) / max(self.seconds, 1e-9)


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
    return policy_metrics(
        greedy_backtest(agent.net, data.market, first, last, cfg.env), data.market
    )


def train(
    cfg: Config,
    out_dir: str | Path,
    *,
    data: Prepared | None = None,
    progress: bool = True,
    on_eval: EvalCallback | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a double-DQN agent on the training split; keep the weights with the best
    validation Sharpe in ``out_dir/model.safetensors``.

    A checkpoint (network, target, optimizer, replay, env and RNG states, counters) is
    written atomically after every validation; ``resume=True`` continues from it and ends
    with the same result as an uninterrupted run. ``on_eval(step, record)`` is called after
    each validation (a tuner may raise from it to prune the trial).

    Examples:
        >>> from regime_trader.config import Config
        >>> result = train(Config().with_budget("tiny"), "runs/tiny")  # doctest: +SKIP
    """
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tc, ac = cfg.train, cfg.agent
    # 1. seed and build
    seed_everything(tc.seed)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    device = resolve_device(tc.device)
    rng, gen = make_generators(tc.seed, device)
    data = data or prepare(cfg, device=device)
    market, curriculum = data.market, None
    if cfg.curriculum.enabled:
        curriculum = build_curriculum(cfg, data, rng)
        market = curriculum.market
    env = VectorTradingEnv(
        market, cfg.env, tc.n_envs, generator=gen,
        start=data.split.train.start, end=data.split.train.stop - 3, reward=cfg.reward,
    )  # fmt: skip
    agent = DQNAgent(build_net(ac, cfg.env.window, market.n_features).to(device), ac)
    buffer = build_replay(cfg.replay, market, cfg.env.window, ac.buffer_size, gen)
    c = Counters(next_eval=tc.eval_every)
    if resume:
        c = ckpt.restore(run_dir, cfg, agent=agent, env=env, buffer=buffer, generator=gen)
    else:
        ckpt.save_run_spec(run_dir, cfg, data.scaler, data.features.lookback)
    schedule = CurriculumTrainingSchedule(tc.total_steps, cfg.curriculum.stage_fractions)
    if curriculum is not None and c.stage >= 0:
        _set_stage(env, curriculum, schedule, c.stage)
    eps_steps = int(ac.eps_fraction * tc.total_steps)
    tracker = make_tracker(cfg.tracking, run_dir, run_dir.resolve().name)
    # 2. collect and learn
    with tracker, TrainProgress(tc.total_steps, enabled=progress) as bar:
        tracker.log_params(config_params(cfg))
        started, resumed_from = time.perf_counter(), c.steps  # steps/s excludes tracker set-up
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
            # 3. validate, log, keep the best, checkpoint
            if c.steps >= c.next_eval or c.steps >= tc.total_steps:
                c.loss = float(loss) if loss is not None else c.loss
                record = _evaluate(agent, data, cfg, c, eps, run_dir)
                tracker.log_metrics(record, step=c.steps)
                ckpt.save_checkpoint(run_dir, ckpt.training_state(c, agent, env, buffer, gen))
                bar.update(c.steps, eps=eps, loss=c.loss, val_sharpe=record["eval/val_sharpe"])
                if on_eval is not None:
                    on_eval(c.steps, record)
            else:
                bar.update(c.steps, eps=eps)
        for name in (ckpt.CONFIG, ckpt.FEATURES, ckpt.WEIGHTS, "train_log.jsonl"):
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
    agent: DQNAgent, data: Prepared, cfg: Config, c: Counters, eps: float, run_dir: Path
) -> dict[str, Any]:
    """Validate, append to ``train_log.jsonl`` and save the weights if they are the best."""
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
    c.log.append(json.dumps(record))
    ckpt.write_log(run_dir, c.log)
    if val["sharpe"] > c.best:
        c.best = val["sharpe"]
        ckpt.save_weights(run_dir, agent.net)
    return record
