"""Replay speed: push, sample(256) + priority update, ours vs the plan's PrioritizedReplayBuffer.

For each capacity (default 100k and 1M), with the buffer already full (so pushes overwrite, the
steady state):

- push: ``ReplayBuffer.add`` of a batch of ``--push-batch`` transitions (one batched env step),
  reported per transition; the plan's ``push`` is called once per transition;
- sample + update: ``sample(--batch)`` then a priority update with random |TD| for the drawn
  items. For ours two figures: the sampler alone (draw slots, importance weights, update: the
  part that replaces the plan's buffer) and the whole `ReplayBuffer.sample` (fields plus
  ``[B, W, F]`` windows gathered from `MarketData`) + ``update_priorities``.

The plan's buffer is its sketch (Week 6) copied below: a Python list of tuples, a NumPy
priority array, ``np.random.choice(p=...)`` over every item, and ``priorities.max()`` in every
push. It is handed bar numbers as states (ints, not windows), so both sides time replay
mechanics, not observation copying. Both buffers are pre-filled by direct assignment.
Figures are medians of per-call times.

    python bench/replay.py [--capacities 100000 1000000] [--batch 256] [--push-batch 16]
                           [--iters 300] [--plan-iters 30] [--threads 1] [--device cpu] [--write]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from _timing import call_times  # noqa: E402
from regime_trader.config import ReplayConfig
from regime_trader.envs.market import MarketData
from regime_trader.envs.vector_env import Transition
from regime_trader.replay import PrioritizedSampler, ReplayBuffer, build_replay

MARK = "<!-- bench/replay.py -->"
BARS, WINDOW, FEATURES = 5_000, 30, 32


class PlanPrioritizedReplayBuffer:
    """The plan's ``PrioritizedReplayBuffer`` (design/plan.md, Week 6), as written."""

    def __init__(self, capacity, alpha=0.6, beta=0.4, beta_increment=0.001):
        self.capacity = capacity
        self.alpha = alpha
        self.beta = beta
        self.beta_increment = beta_increment
        self.buffer = []
        self.priorities = np.zeros(capacity, dtype=np.float32)
        self.position = 0

    def push(self, state, action, reward, next_state, done):
        max_priority = self.priorities.max() if self.buffer else 1.0
        if len(self.buffer) < self.capacity:
            self.buffer.append((state, action, reward, next_state, done))
        else:
            self.buffer[self.position] = (state, action, reward, next_state, done)
        self.priorities[self.position] = max_priority
        self.position = (self.position + 1) % self.capacity

    def sample(self, batch_size):
        if len(self.buffer) == self.capacity:
            priorities = self.priorities
        else:
            priorities = self.priorities[: self.position]
        probs = priorities**self.alpha
        probs /= probs.sum()
        indices = np.random.choice(len(self.buffer), batch_size, p=probs)  # noqa: NPY002
        weights = (len(self.buffer) * probs[indices]) ** (-self.beta)
        weights /= weights.max()
        self.beta = min(1.0, self.beta + self.beta_increment)
        samples = [self.buffer[idx] for idx in indices]
        states, actions, rewards, next_states, dones = zip(*samples, strict=True)
        return (
            torch.FloatTensor(states),
            torch.LongTensor(actions),
            torch.FloatTensor(rewards),
            torch.FloatTensor(next_states),
            torch.FloatTensor(dones),
            indices,
            torch.FloatTensor(weights),
        )

    def update_priorities(self, indices, errors):
        for idx, error in zip(indices, errors, strict=True):
            self.priorities[idx] = error + 1e-5

    def __len__(self):
        return len(self.buffer)


def per_call_us(fn: Callable[[], object], iters: int, warmup: int, sync: Callable[[], None]):
    """Median microseconds of one call of ``fn``."""
    return statistics.median(call_times(fn, iters, warmup=warmup, sync=sync)) * 1e6


def synthetic_market(device: torch.device) -> MarketData:
    """``BARS`` bars, ``FEATURES`` random features, random regimes (seeded)."""
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(BARS)))
    idx = pd.date_range("2000-01-01", periods=BARS, freq="D", tz="UTC")
    frame = pd.DataFrame({"open": close, "high": close, "low": close, "close": close}, idx)
    feats = rng.standard_normal((BARS, FEATURES)).astype(np.float32)
    names = [f"f{i}" for i in range(FEATURES)]
    return MarketData.build(feats, frame, rng.integers(0, 4, BARS), names=names, device=device)


def random_transitions(n: int, gen: torch.Generator, device: torch.device) -> Transition:
    t = torch.randint(WINDOW, BARS - 2, (n,), generator=gen, device=device)
    zeros = torch.zeros(n, device=device)
    action = torch.randint(0, 3, (n,), generator=gen, device=device)
    return Transition(t, zeros, action, zeros, zeros, zeros.double())


def bench_ours(kind: str, capacity: int, args, market: MarketData, fanout: int = 32) -> dict:
    """Push and sample+update figures of our buffer with the ``kind`` sampler, full."""
    device = market.device
    gen = torch.Generator(device).manual_seed(0)
    if fanout == 32:
        buffer = build_replay(ReplayConfig(kind=kind), market, WINDOW, capacity, gen)
    else:
        sampler = PrioritizedSampler(capacity, device=device, fanout=fanout)
        buffer = ReplayBuffer(market, WINDOW, capacity, generator=gen, sampler=sampler)
    for start in range(0, capacity, 1 << 16):
        buffer.add(random_transitions(min(1 << 16, capacity - start), gen, device))
    all_slots = torch.arange(capacity, device=device)
    buffer.update_priorities(all_slots, torch.rand(capacity, generator=gen, device=device))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    push = random_transitions(args.push_batch, gen, device)
    td = torch.rand(args.batch, generator=gen, device=device)

    def sampler_step() -> None:
        slots, _ = buffer.sampler.sample(args.batch, len(buffer), 0.4, gen)
        buffer.update_priorities(slots, td)

    def buffer_step() -> None:
        batch = buffer.sample(args.batch, beta=0.4)
        buffer.update_priorities(batch.indices, td)

    return {
        "push": per_call_us(lambda: buffer.add(push), args.iters * 4, 50, sync) / args.push_batch,
        "sample": per_call_us(sampler_step, args.iters, 20, sync) / 1e3,
        "batch": per_call_us(buffer_step, args.iters, 20, sync) / 1e3,
    }


def bench_plan(capacity: int, args) -> dict:
    """The plan's buffer, full: push per transition, sample + update_priorities."""
    np.random.seed(0)  # noqa: NPY002  (the plan's code draws from NumPy's global generator)
    rng = np.random.default_rng(0)
    plan = PlanPrioritizedReplayBuffer(capacity)
    bars = [int(b) for b in range(BARS)]
    ts = rng.integers(WINDOW, BARS - 2, capacity)
    plan.buffer = [(bars[t], 1, 0.0, bars[t + 1], False) for t in ts]
    plan.priorities[:] = rng.random(capacity, dtype=np.float32) + 1e-5
    errors = rng.random(args.batch)
    rows = [(bars[t], 1, 0.0, bars[t + 1], False) for t in ts[: args.push_batch]]

    def push() -> None:
        for row in rows:
            plan.push(*row)

    def step() -> None:
        indices = plan.sample(args.batch)[5]
        plan.update_priorities(indices, errors)

    none = lambda: None  # noqa: E731
    return {
        "push": per_call_us(push, args.plan_iters, 3, none) / args.push_batch,
        "sample": per_call_us(step, args.plan_iters, 3, none) / 1e3,
    }


def cpu_name() -> str:
    name = platform.processor() or platform.machine()
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return name


def command(args) -> str:
    caps = " ".join(str(c) for c in args.capacities)
    return (
        f"python bench/replay.py --capacities {caps} --batch {args.batch} --push-batch "
        f"{args.push_batch} --iters {args.iters} --plan-iters {args.plan_iters} --threads "
        f"{args.threads} --device {args.device} --write"
    )


def run(args) -> tuple[list[str], list[str]]:
    """Table rows and target checks."""
    device = torch.device(args.device)
    market = synthetic_market(device)
    rows, checks, pushes = [], [], []
    variants = [("prioritized", "prioritized (sum tree, fanout 32)", 32)]
    variants += [("prioritized", "prioritized, binary tree (fanout 2)", 2)]
    variants += [
        ("regime", "regime-aware (5 trees, quotas)", 32),
        ("uniform", "uniform (no priorities)", 32),
    ]
    for cap in args.capacities:
        plan = bench_plan(cap, args)
        rows.append(
            f"| {cap:,} | plan's `PrioritizedReplayBuffer` | {plan['push']:.1f} "
            f"| {plan['sample']:.2f} | | 1x |"
        )
        print(rows[-1], flush=True)
        for kind, label, fanout in variants:
            r = bench_ours(kind, cap, args, market, fanout)
            ratio = "" if kind == "uniform" else f"{plan['sample'] / r['sample']:,.0f}x"
            rows.append(
                f"| {cap:,} | ours: {label} | {r['push']:.1f} | {r['sample']:.3f} "
                f"| {r['batch']:.3f} | {ratio} |"
            )
            print(rows[-1], flush=True)
            if label.startswith("prioritized (sum"):
                pushes.append(r["push"])
                if cap == max(args.capacities):
                    ok = "met" if r["sample"] <= 0.5 else "NOT met"
                    checks.append(
                        f"target sample({args.batch}) + update <= 0.5 ms at {cap:,}: "
                        f"{r['sample']:.3f} ms (sampler) {ok}; with the Batch gather "
                        f"{r['batch']:.3f} ms"
                    )
    ok = "met" if max(pushes) <= 10 else "NOT met"
    checks.append(
        "target push <= 10 us per transition, independent of capacity: "
        + ", ".join(f"{p:.1f}" for p in pushes)
        + f" us ({ok})"
    )
    return rows, checks


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--capacities", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--push-batch", type=int, default=16, help="transitions per push")
    ap.add_argument("--iters", type=int, default=300, help="timed calls of ours")
    ap.add_argument("--plan-iters", type=int, default=30, help="timed calls of the plan's")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (ours only; the plan's is NumPy)")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("--device cuda asked for, but CUDA is not available")
    rows, checks = run(args)
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_name()
    table = "\n".join(
        [
            f"| capacity | replay | push us / transition | sample({args.batch}) + update ms "
            "| with Batch gather ms | plan / ours (sample + update) |",
            "|---:|---|---:|---:|---:|---:|",
            *rows,
        ]
    )
    section = (
        f"{MARK}\n## Replay speed: sum-tree samplers vs the plan's prioritized buffer\n\n"
        f"Device: {dev} ({args.device}), {torch.get_num_threads()} torch thread(s); torch "
        f"{torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}. "
        f"Buffers full; push = one batch of {args.push_batch} transitions (the plan: "
        f"{args.push_batch} single pushes), per transition; sample + update = draw "
        f'{args.batch}, importance weights, priority update with random |TD|; "with Batch '
        f"gather\" adds the stored fields and `[B, {WINDOW}, {FEATURES}]` windows. The plan's "
        f"buffer stores bar numbers as states. Medians of {args.iters} (ours; pushes "
        f"{args.iters * 4}) and {args.plan_iters} (plan) calls.\n\n"
        f"Command: `{command(args)}`\n\n{table}\n\n"
        + "\n".join(f"- {c}" for c in checks)
        + f"\n{MARK}"
    )
    print(section)
    if args.write:
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
