"""Training speed, side by side: our trainer vs Stable-Baselines3 DQN on the same data.

Both train the same MLP (flattened 30-bar window + position -> 64 -> 64 -> 3 Q-values) with
batch 32 and one gradient step every 4 env steps (replay ratio 8 samples per env step),
learning from step 1,000, on the S&P 500 training split. SB3 steps our Gymnasium
`TradingEnv`; ours steps the batched `VectorTradingEnv`. Both runs use the same torch
thread count. Prints env-steps/s for both and the ratio; with ``--write`` the table goes to
docs/benchmarks.md.

    python bench/train.py [--steps 40000] [--threads 1] [--write]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from regime_trader.config import Config
from regime_trader.envs import TradingEnv
from regime_trader.training import prepare, train

MARK = "<!-- bench/train.py -->"


def bench_config(steps: int, n_envs: int) -> Config:
    return Config().override(
        agent={
            "hidden": [64, 64],
            "batch_size": 32,
            "train_freq": 4,
            "learning_starts": 1000,
            "buffer_size": 100_000,
            "lr": 1e-4,
        },
        train={"total_steps": steps, "eval_every": 10 * steps, "n_envs": n_envs, "device": "cpu"},
        tracking={"backend": "none"},  # SB3 logs nothing either
    )


def run_ours(cfg: Config, data) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        res = train(cfg, tmp, data=data, progress=False)
    return res.env_steps / res.seconds


def run_sb3(cfg: Config, data, steps: int) -> float:
    from stable_baselines3 import DQN

    env = TradingEnv(
        data.market,
        cfg.env,
        random_start=True,
        start=data.split.train.start,
        end=data.split.train.stop - 3,
    )
    a = cfg.agent
    model = DQN(
        "MultiInputPolicy",
        env,
        learning_rate=a.lr,
        buffer_size=a.buffer_size,
        learning_starts=a.learning_starts,
        batch_size=a.batch_size,
        tau=a.tau,
        gamma=a.gamma,
        train_freq=a.train_freq,
        gradient_steps=1,
        target_update_interval=1,
        policy_kwargs={"net_arch": list(a.hidden)},
        device="cpu",
        seed=0,
        verbose=0,
    )
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40_000)
    ap.add_argument("--n-envs", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = bench_config(args.steps, args.n_envs)
    data = prepare(cfg, device="cpu")
    obs = f"{cfg.env.window}x{data.market.n_features} window + position"
    sb3 = run_sb3(cfg, data, args.steps)
    ours = run_ours(cfg, data)
    rows = [
        ("Stable-Baselines3 DQN (TradingEnv)", sb3),
        (f"regime-trader (VectorTradingEnv, {args.n_envs} envs)", ours),
    ]
    table = ["| trainer | env-steps/s |", "|---|---:|"] + [f"| {n} | {v:,.0f} |" for n, v in rows]
    table.append(f"| **ratio (ours / SB3)** | **{ours / sb3:.2f}x** |")
    text = "\n".join(table)
    print(text)
    if args.write:
        cmd = f"python bench/train.py --steps {args.steps} --n-envs {args.n_envs} --threads {args.threads} --write"
        section = (
            f"{MARK}\n## Training speed: ours vs Stable-Baselines3 DQN\n\n"
            f"Same data (S&P 500 training split), same MLP (64, 64) over a {obs}, batch 32, one "
            f"gradient step per 4 env steps, learning from step 1,000, {args.steps:,} env steps, "
            f"torch threads {args.threads}, CPU ({platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} torch thread(s)), torch {torch.__version__}.\n\n"
            f"Command: `{cmd}`\n\n{text}\n{MARK}\n"
        )
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
