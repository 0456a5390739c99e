"""The CPU update's parts, torch vs NumPy side by side (the figures docs/design.md quotes).

Shapes are those of `bench/train.py`: a 30-bar x 13-feature window plus position (391
inputs), MLP (64, 64), batch 32. Rows, each a median of per-call times:

- first-layer product ``[32, 391] x [391, 64]``: torch ``addmm`` with the weight's transposed
  view (what `agents/mlp_grad.py` runs), NumPy with the same view, NumPy with the contiguous
  transposed copy `agents/mlp_numpy.py` keeps;
- one small element-wise call on ``[32, 64]``: torch ``add_`` vs NumPy ``add(out=)``;
- window gather of 512 windows of 31 bars: flattened bar numbers into a column-major
  ``[T, F]`` array (the layout pandas handed over before `MarketData` forced row-major), the
  same into a row-major one, and `MarketData.windows` (strided view, one block per window);
- one whole `DQNAgent.update` (gradients, clip, Adam, target update): the torch closed-form
  gradients vs the NumPy ones.

    python bench/update.py [--iters 2000] [--threads 1] [--write]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics

import numpy as np
import pandas as pd
import torch

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from _timing import call_times  # noqa: E402
from regime_trader.agents.dqn import DQNAgent
from regime_trader.agents.mlp_grad import MLPGradient
from regime_trader.config import AgentConfig
from regime_trader.envs.market import MarketData
from regime_trader.nets.mlp import MLPQNet
from regime_trader.types import Batch

MARK = "<!-- bench/update.py -->"
BARS, WINDOW, FEATURES, HIDDEN, BATCH = 5_000, 30, 13, (64, 64), 32


def us(fn, iters: int) -> float:
    """Median microseconds of one call."""
    return statistics.median(call_times(fn, iters, warmup=max(10, iters // 10))) * 1e6


def market(gen: np.random.Generator) -> MarketData:
    idx = pd.date_range("2000-01-01", periods=BARS, freq="D")
    ohlcv = pd.DataFrame({"open": 100 + gen.random(BARS), "close": 100 + gen.random(BARS)}, idx)
    feats = gen.normal(size=(BARS, FEATURES)).astype(np.float32)
    names = [f"f{i}" for i in range(FEATURES)]
    return MarketData.build(feats, ohlcv, np.zeros(BARS, np.int64), names=names)


def replay_batch(m: MarketData, gen: torch.Generator) -> Batch:
    """A batch laid out as `ReplayBuffer.gather` lays it out (strided window views)."""
    t = torch.randint(WINDOW, BARS - 2, (BATCH,), generator=gen)
    both = m.windows(t + 1, WINDOW + 1)
    pos = torch.randint(0, 2, (BATCH, 1), generator=gen).float()
    return Batch(
        window=both[:, :-1],
        state=pos,
        action=torch.randint(0, 3, (BATCH,), generator=gen),
        reward=torch.randn(BATCH, generator=gen) * 0.01,
        next_window=both[:, 1:],
        next_state=pos,
        done=torch.zeros(BATCH),
        weights=torch.ones(BATCH),
        indices=torch.arange(BATCH),
        regime=torch.zeros(BATCH, dtype=torch.long),
    )


def product_rows(iters: int) -> list[tuple[str, float]]:
    x = torch.randn(BATCH, WINDOW + 1, FEATURES)[:, :-1].flatten(1)  # strided, as in replay
    w = torch.randn(HIDDEN[0], WINDOW * FEATURES + 1)[:, :-1]
    b, out = torch.randn(HIDDEN[0]), np.empty((BATCH, HIDDEN[0]), np.float32)
    xn, wn = x.numpy(), w.numpy()
    w_t = np.ascontiguousarray(wn.T)
    h = torch.randn(BATCH, HIDDEN[0])
    hn = h.numpy().copy()
    return [
        ("first layer: torch addmm (transposed weight view)", us(lambda: torch.addmm(b, x, w.t()), iters)),
        ("first layer: NumPy matmul (transposed weight view)", us(lambda: np.matmul(xn, wn.T, out=out), iters)),
        ("first layer: NumPy matmul (contiguous transposed copy)", us(lambda: np.matmul(xn, w_t, out=out), iters)),
        ("refresh the transposed copy (NumPy copyto)", us(lambda: np.copyto(w_t, wn.T), iters)),
        ("small element-wise call: torch add_ [32, 64]", us(lambda: h.add_(1.0), iters)),
        ("small element-wise call: NumPy add(out=) [32, 64]", us(lambda: np.add(hn, 1.0, out=hn), iters)),
    ]  # fmt: skip


def gather_rows(m: MarketData, iters: int) -> list[tuple[str, float]]:
    t = torch.randint(WINDOW, BARS - 1, (16 * BATCH,))
    bars = (t.unsqueeze(-1) + torch.arange(-WINDOW, 1)).reshape(-1)
    col_major = m.features.t().contiguous().t()
    return [
        ("gather 512 windows: rows of a column-major [T, F]", us(lambda: col_major.index_select(0, bars), iters)),
        ("gather 512 windows: rows of a row-major [T, F]", us(lambda: m.features.index_select(0, bars), iters)),
        ("gather 512 windows: `MarketData.windows` (strided view)", us(lambda: m.windows(t, WINDOW + 1), iters)),
    ]  # fmt: skip


def update_rows(m: MarketData, iters: int) -> list[tuple[str, float]]:
    gen = torch.Generator().manual_seed(0)
    batches = [replay_batch(m, gen) for _ in range(64)]
    rows = []
    for name, numpy_path in (
        ("whole update: torch closed-form gradients", False),
        ("whole update: NumPy gradients (what the trainer runs on a CPU)", True),
    ):
        torch.manual_seed(0)
        agent = DQNAgent(MLPQNet(WINDOW, FEATURES, 1, HIDDEN), AgentConfig(hidden=list(HIDDEN)))
        if not numpy_path:
            agent._fast = MLPGradient(agent.net, agent.target, agent.cfg.gamma)  # type: ignore[arg-type]
        rows.append((name, us(_cycling_updates(agent, batches), iters)))
    return rows


def _cycling_updates(agent: DQNAgent, batches: list[Batch]):
    """A no-argument call doing one `agent.update`, on the next batch each time."""
    it = itertools.cycle(batches)
    return lambda: agent.update(next(it))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = market(np.random.default_rng(0))
    rows = product_rows(args.iters) + gather_rows(m, args.iters // 4) + update_rows(m, args.iters)
    table = "\n".join(
        ["| operation | us per call |", "|---|---:|"] + [f"| {n} | {v:,.1f} |" for n, v in rows]
    )
    print(table)
    if args.write:
        cmd = f"python bench/update.py --iters {args.iters} --threads {args.threads} --write"
        section = (
            f"{MARK}\n## The CPU update's parts: torch vs NumPy\n\n"
            f"Shapes of `bench/train.py` (391 inputs, MLP (64, 64), batch 32); medians of "
            f"{args.iters:,} calls ({args.iters // 4:,} for the gathers); {args.threads} torch "
            f"thread(s); CPU {platform.processor() or platform.machine()}; torch "
            f"{torch.__version__}, NumPy {np.__version__}. Why the trainer's CPU path looks "
            "the way it does: [design.md](design.md#training-speed-on-a-cpu).\n\n"
            f"Command: `{cmd}`\n\n{table}\n{MARK}\n"
        )
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
