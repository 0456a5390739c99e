"""`train(cfg)`: seed → build → collect and learn → validate → save, top to bottom."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from regime_trader.agents import DQNAgent, linear_epsilon
from regime_trader.agents.exploration import epsilon_greedy
from regime_trader.config import Config
from regime_trader.envs.vector_env import VectorTradingEnv
from regime_trader.evaluation.backtest import decision_range, greedy_backtest, regime_accuracy
from regime_trader.evaluation.metrics import bars_per_year, compute_metrics
from regime_trader.nets import build_net
from regime_trader.replay import ReplayBuffer
from regime_trader.training import checkpoint as ckpt
from regime_trader.training.prepare import Prepared, prepare
from regime_trader.utils.device import resolve_device
from regime_trader.utils.progress import TrainProgress
from regime_trader.utils.seeding import make_generators, seed_everything


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports."""

    run_dir: Path
    best_val_sharpe: float
    env_steps: int
    updates: int
    seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.env_steps / max(self.seconds, 1e-9)


def validate(agent: DQNAgent, data: Prepared, cfg: Config) -> dict[str, float]:
    """Greedy backtest of the online network on the validation split."""
    first, last = decision_range(
        data.market, cfg.env.window, cfg.env.fill, data.split.val.start, data.split.val.stop
    )
    res = greedy_backtest(agent.net, data.market, first, last, cfg.env)
    metrics = compute_metrics(
        res.returns, res.positions, bars_per_year=bars_per_year(data.market.index)
    )
    accuracy = regime_accuracy(agent.net, data.market, first, last, cfg.env.window)
    if accuracy is not None:
        metrics["regime_accuracy"] = accuracy
    return metrics


def train(
    cfg: Config, out_dir: str | Path, *, data: Prepared | None = None, progress: bool = True
) -> TrainResult:
    """Train a double-DQN agent on the training split; keep the weights with the best
    validation Sharpe in ``out_dir/model.safetensors``.

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
    _, gen = make_generators(tc.seed, device)
    data = data or prepare(cfg, device=device)
    ckpt.save_run_spec(run_dir, cfg, data.scaler, data.features.lookback)
    market = data.market
    env = VectorTradingEnv(
        market,
        cfg.env,
        tc.n_envs,
        generator=gen,
        start=data.split.train.start,
        end=data.split.train.stop - 3,
    )
    agent = DQNAgent(build_net(ac, cfg.env.window, market.n_features).to(device), ac)
    buffer = ReplayBuffer(market, cfg.env.window, ac.buffer_size, generator=gen)
    # 2. collect and learn
    log = (run_dir / "train_log.jsonl").open("w", encoding="utf-8")
    best, steps, updates, owed, loss = -np.inf, 0, 0, 0.0, torch.zeros(())
    next_eval, started = tc.eval_every, time.perf_counter()
    with TrainProgress(tc.total_steps, enabled=progress) as bar:
        while steps < tc.total_steps:
            eps = linear_epsilon(
                steps,
                start=ac.eps_start,
                end=ac.eps_end,
                duration=int(ac.eps_fraction * tc.total_steps),
            )
            window, state = env.observe()
            action = epsilon_greedy(agent.q_values(window, state), eps, gen)
            buffer.add(env.step(action))
            steps += tc.n_envs
            if steps >= ac.learning_starts:
                owed += tc.n_envs / ac.train_freq
                while owed >= 1.0:
                    loss, _ = agent.update(buffer.sample(ac.batch_size))
                    owed, updates = owed - 1.0, updates + 1
            # 3. validate, log, keep the best
            if steps >= next_eval or steps >= tc.total_steps:
                next_eval += tc.eval_every
                val = validate(agent, data, cfg)
                record = {
                    "env_steps": steps,
                    "updates": updates,
                    "epsilon": eps,
                    "train/td_loss": float(loss),
                    "eval/val_sharpe": val["sharpe"],
                    "eval/val_total_return": val["total_return"],
                }
                if "regime_accuracy" in val:
                    record["eval/val_regime_accuracy"] = val["regime_accuracy"]
                log.write(json.dumps(record) + "\n")
                log.flush()
                if val["sharpe"] > best:
                    best = val["sharpe"]
                    ckpt.save_weights(run_dir, agent.net)
                bar.update(steps, eps=eps, loss=float(loss), val_sharpe=val["sharpe"])
            else:
                bar.update(steps, eps=eps)
    log.close()
    # 4. save
    ckpt.save_checkpoint(
        run_dir, {"agent": agent.state_dict(), "env_steps": steps, "updates": updates}
    )
    seconds = time.perf_counter() - started
    return TrainResult(run_dir, float(best), steps, updates, seconds)
