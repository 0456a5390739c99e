"""`train_population(cfgs, out_dirs)`: train M agents (seeds, data windows) in one process.

The members share the architecture, the budget and the update schedule; each has its own
seed, series, envs, replay, target net, Adam state and torch generator. Their weights are
one `StackedMLP` (member axis first), so acting is one forward for all members per env step
and an update is one batched gradient, one Adam call and one target update for all
(`training/population_grad.py`); the envs and replays are batched over members too
(`training/population_env.py`). Only validation runs member by member (a backtest per
member every ``train.eval_every`` env steps, as ``train()`` does).

Each member's folder gets the files ``train()`` writes, so every loader reads it:
``config.yaml``, ``features.json``, ``split.json``, ``model.safetensors`` (best validation
Sharpe of that member) and ``train_log.jsonl``, plus its tracker's files. On a CPU, member
``m`` is ``train(cfgs[m])`` exactly: the same weights, log and best Sharpe, bit for bit
(`tests/training/test_population.py`). No ``checkpoint.pt`` is written (no resume).

Supported: ``agent.net: mlp`` with uniform replay, no curriculum (the walk-forward's
original agent); other settings raise `ConfigError` naming the field. docs/population.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from regime_trader.agents import linear_epsilon
from regime_trader.config import Config
from regime_trader.data.split_report import format_split, save_split
from regime_trader.envs import spec
from regime_trader.errors import ConfigError
from regime_trader.nets import build_net
from regime_trader.nets.mlp import MLPQNet
from regime_trader.nets.population import StackedMLP
from regime_trader.policy.backtest import backtest_net, decision_range, policy_metrics
from regime_trader.policy.prepare import Prepared, prepare, split_summary
from regime_trader.training import checkpoint as ckpt
from regime_trader.training.loop import TrainResult
from regime_trader.training.population_env import PopulationEnv, PopulationReplay, StackedMarkets
from regime_trader.training.population_grad import StackedNumpyGradient, StackedTorchGradient
from regime_trader.training.run_folder import RunFolder
from regime_trader.training.tracking import Tracker, config_params, make_tracker
from regime_trader.utils.device import resolve_device
from regime_trader.utils.seeding import make_generators
from regime_trader.utils.threads import compute_threads, seeded

MemberEval = Callable[[int, int, dict[str, Any]], None]  # (member, env steps, record)
#: Config fields members may differ in (everything else must be equal).
MEMBER_FIELDS: dict[str, Any] = {"data": True, "tracking": True, "train": {"seed"}}


@dataclass(frozen=True)
class PopulationResult:
    """What a population run reports: one `TrainResult` per member (``seconds`` of each is
    the population's wall time, shared by all)."""

    members: tuple[TrainResult, ...]
    seconds: float

    @property
    def env_steps(self) -> int:
        """Env steps of all members together."""
        return sum(m.env_steps for m in self.members)

    @property
    def steps_per_second(self) -> float:
        """All members' env steps per second of the population's wall time."""
        return self.env_steps / max(self.seconds, 1e-9)


@dataclass
class _Member:
    """One member's own state: run folder, config, data, a standalone net for validation and
    saving, its tracker and what ``train()`` keeps in its counters."""

    folder: RunFolder
    cfg: Config
    data: Prepared
    net: MLPQNet
    tracker: Tracker | None = None
    best: float = -np.inf
    loss: float = float("nan")
    log: list[str] = field(default_factory=list)


def check_population(cfgs: Sequence[Config], out_dirs: Sequence[str | Path]) -> None:
    """Raise `ConfigError` unless the members can train as one population.

    Members may differ only in `MEMBER_FIELDS` (data window and source, seed, tracking).
    """
    if not cfgs or len(cfgs) != len(out_dirs):
        raise ConfigError(
            f"train_population: {len(cfgs)} configs for {len(out_dirs)} out_dirs (need >= 1, equal)"
        )
    dirs = [Path(d).resolve() for d in out_dirs]
    if len(set(dirs)) != len(dirs):
        raise ConfigError("train_population: two members share an out_dir")
    shared = cfgs[0].model_dump(mode="json", exclude=MEMBER_FIELDS)
    for i, cfg in enumerate(cfgs[1:], start=1):
        other = cfg.model_dump(mode="json", exclude=MEMBER_FIELDS)
        diff = sorted(
            f"{sec}.{k}" for sec in shared for k in shared[sec] if shared[sec][k] != other[sec][k]
        )
        if diff:
            raise ConfigError(
                f"train_population: member {i} differs from member 0 in {', '.join(diff[:4])} "
                "(members may differ in data, train.seed and tracking only)"
            )
    c = cfgs[0]
    for name, value, ok in (
        ("agent.net", c.agent.net, "mlp"),
        ("replay.kind", c.replay.kind, "uniform"),
        ("curriculum.enabled", c.curriculum.enabled, False),
    ):
        if value != ok:
            raise ConfigError(
                f"train_population supports {name}: {ok!r} only, got {value!r} "
                "(train such agents one by one with train())"
            )


def train_population(
    cfgs: Sequence[Config],
    out_dirs: Sequence[str | Path],
    *,
    data: Sequence[Prepared | None] | None = None,
    progress: bool = True,
    on_eval: MemberEval | None = None,
    force: bool = False,
) -> PopulationResult:
    """Train ``len(cfgs)`` double-DQN agents together; member ``m`` writes ``out_dirs[m]``.

    Args:
        cfgs: one config per member (equal but for data, ``train.seed`` and tracking).
        out_dirs: one new run folder per member (refused if it holds a run, unless
            ``force``; all are removed if the call fails).
        data: prepared series per member (None entries, or None: `prepare` each config).
        progress: print one line per validation.
        on_eval: called as ``on_eval(member, env_steps, record)`` after each validation.
        force: replace runs already in ``out_dirs``.

    Raises:
        ConfigError: see `check_population`; an ``out_dir`` holding a run.

    Examples:
        >>> cfgs = [Config().override(train={"seed": s}) for s in (0, 1, 2)]  # doctest: +SKIP
        >>> res = train_population(cfgs, [f"runs/s{s}" for s in (0, 1, 2)])  # doctest: +SKIP
    """
    check_population(cfgs, out_dirs)
    if data is not None and len(data) != len(cfgs):
        raise ConfigError(f"train_population: {len(data)} prepared series for {len(cfgs)} configs")
    folders = [
        RunFolder.claim(d, c, resume=False, force=force)
        for d, c in zip(out_dirs, cfgs, strict=True)
    ]
    with compute_threads(cfgs[0].train.threads), seeded(cfgs[0].train.seed), ExitStack() as undo:
        for folder in folders:
            undo.enter_context(folder.removed_on_failure())
        return _train(list(cfgs), folders, list(data or [None] * len(cfgs)), progress, on_eval)


def _train(
    cfgs: list[Config],
    folders: list[RunFolder],
    data: list[Prepared | None],
    progress: bool,
    on_eval: MemberEval | None,
) -> PopulationResult:
    """`train_population`'s recipe: build → collect and learn → validate, as ``train()``."""
    tc, ac, env_cfg = cfgs[0].train, cfgs[0].agent, cfgs[0].env
    device = resolve_device(tc.device)
    gens = [make_generators(c.train.seed, device)[1] for c in cfgs]
    members = []
    for cfg, folder, prepared in zip(cfgs, folders, data, strict=True):
        prepared = prepared or prepare(cfg, device=device)
        split = split_summary(prepared, cfg)
        save_split(folder.path, split)
        if progress:
            print(f"{folder.path}: {format_split(split)}", flush=True)
        with seeded(cfg.train.seed):  # train()'s initialisation: the seeded global RNG
            net = build_net(cfg.agent, env_cfg.window, prepared.market.n_features).to(device)
        if type(net) is not MLPQNet:
            raise ConfigError("train_population: agent.net must build a plain MLPQNet")
        members.append(_Member(folder, cfg, prepared, net))
    markets = StackedMarkets.build([m.data.market for m in members])
    bounds = [
        spec.decision_range(len(m.data.market), env_cfg.window, env_cfg.fill,
                            m.data.split.train.start, m.data.split.train.stop - 3)
        for m in members
    ]  # fmt: skip
    env = PopulationEnv(markets, bounds, env_cfg, tc.n_envs, gens, cfgs[0].reward)
    replay = PopulationReplay(markets, env_cfg.window, ac.buffer_size, gens)
    online = StackedMLP.from_nets([m.net for m in members])
    target = StackedMLP.from_nets([m.net for m in members]).requires_grad_(False)
    grad = gradient_kind(device)(online, target, ac.gamma, ac.max_grad_norm)
    # Adam and the target update run over per-member views of the flat weights: one fused
    # call each for all members, with each member's tensors the sizes of train()'s
    params = [v.requires_grad_() for v in online.param_views()]
    for p, g in zip(params, online.param_views(grad.flat_grad), strict=True):
        p.grad = g
    opt = torch.optim.Adam(params, lr=ac.lr, betas=ac.adam_betas, eps=ac.adam_eps, fused=True)
    target_params = target.param_views()
    for m in members:
        d = m.data
        ckpt.save_run_spec(m.folder.path, m.cfg, d.scaler, d.features.lookback, d.bars_per_year)
    eps_steps = int(ac.eps_fraction * tc.total_steps)
    steps, updates, owed, next_eval = 0, 0, 0.0, tc.eval_every
    with ExitStack() as trackers:
        for m in members:
            run = m.folder.path
            m.tracker = trackers.enter_context(
                make_tracker(m.cfg.tracking, run, run.resolve().name)
            )
            m.tracker.log_params(config_params(m.cfg))
        started = time.perf_counter()
        while steps < tc.total_steps:
            eps = linear_epsilon(steps, start=ac.eps_start, end=ac.eps_end, duration=eps_steps)
            window, state = env.observe()
            with torch.no_grad():
                action = explore(online(window, state), eps, gens)
            replay.add(env.step(action))
            steps += tc.n_envs
            n = 0
            if steps >= ac.learning_starts:  # train()'s `_learn`: the owed gradient steps
                owed += tc.n_envs / ac.train_freq
                n = int(owed)
                owed -= n
                for batch in replay.batches(n, ac.batch_size):
                    grad(batch)
                    opt.step()
                    with torch.no_grad():
                        torch._foreach_lerp_(target_params, params, ac.tau)
                updates += n
            if steps >= next_eval or steps >= tc.total_steps:
                next_eval += tc.eval_every
                losses = grad.last_loss() if n else None
                for i, m in enumerate(members):
                    m.loss = float(losses[i]) if losses is not None else m.loss
                    m.net.load_state_dict(online.member_state_dict(i))
                    record = _evaluate(m, steps, updates, eps)
                    if on_eval is not None:
                        on_eval(i, steps, record)
                if progress:
                    _print_progress(members, steps, tc.total_steps, time.perf_counter() - started)
        for m in members:
            for name in (ckpt.CONFIG, ckpt.FEATURES, ckpt.WEIGHTS, ckpt.LOG):
                m.tracker.log_artifact(m.folder.path / name)  # type: ignore[union-attr]
    seconds = time.perf_counter() - started
    results = tuple(
        TrainResult(m.folder.path, float(m.best), steps, updates, seconds) for m in members
    )
    return PopulationResult(results, seconds)


def gradient_kind(device: torch.device) -> type[StackedNumpyGradient | StackedTorchGradient]:
    """NumPy closed-form gradients on a CPU (bit-equal to ``train()``'s), torch elsewhere."""
    return StackedNumpyGradient if device.type == "cpu" else StackedTorchGradient


def explore(q: torch.Tensor, epsilon: float, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """`epsilon_greedy` for every member: greedy actions of ``q [M, N, A]``, replaced by
    uniform ones with probability ``epsilon``; member ``m`` draws from ``generators[m]``
    (first the actions, then the coins, as `epsilon_greedy`)."""
    _, n, n_actions = q.shape
    greedy = q.argmax(dim=-1)
    rand = torch.stack(
        [torch.randint(n_actions, (n,), generator=g, device=q.device) for g in generators]
    )
    coins = torch.stack([torch.rand(n, generator=g, device=q.device) for g in generators])
    return torch.where(coins < epsilon, rand, greedy)


def _evaluate(m: _Member, steps: int, updates: int, eps: float) -> dict[str, Any]:
    """``train()``'s validation for one member: backtest, log line, best weights, tracker."""
    cfg, d = m.cfg, m.data
    first, last = decision_range(
        d.market, cfg.env.window, cfg.env.fill, d.split.val.start, d.split.val.stop
    )
    val = policy_metrics(backtest_net(m.net, d.market, first, last, cfg.env), d.market)
    record: dict[str, Any] = {
        "env_steps": steps,
        "updates": updates,
        "epsilon": eps,
        "train/td_loss": m.loss,
        "eval/val_sharpe": val["sharpe"],
        "eval/val_total_return": val["total_return"],
    }
    m.log.append(json.dumps(record))
    ckpt.write_log(m.folder.path, m.log)
    if val["sharpe"] > m.best:
        m.best = val["sharpe"]
        ckpt.save_weights(m.folder.path, m.net)
    if m.tracker is not None:
        m.tracker.log_metrics(record, step=steps)
    return record


def _print_progress(members: list[_Member], steps: int, total: int, seconds: float) -> None:
    rate = steps * len(members) / max(seconds, 1e-9)
    sharpes = " ".join(f"{json.loads(m.log[-1])['eval/val_sharpe']:.2f}" for m in members)
    print(
        f"population of {len(members)}: {steps:,}/{total:,} env steps each, "
        f"{rate:,.0f} env-steps/s in all, val Sharpe {sharpes}",
        flush=True,
    )
