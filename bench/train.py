"""Training speed, side by side: our trainer vs Stable-Baselines3 DQN on equal work.

Both train the same MLP (flattened 30-bar window + position -> 64 -> 64 -> 3 Q-values) with
batch 32 and one gradient step every 4 env steps (replay ratio 8 samples per env step),
learning from step 1,000, on the S&P 500 training split, with the same number of envs: SB3
steps N copies of our Gymnasium `TradingEnv` through its `DummyVecEnv` (``train_freq`` and
``gradient_steps`` set so that it too takes N/4 gradient steps per vector step); ours steps
the batched `VectorTradingEnv`. Target updates: ours is one Polyak update (tau) per gradient
step. SB3 updates its target at most once per vector step, so with 1 env it gets
``target_update_interval=4`` (one Polyak per gradient step, exactly ours) and with N > 4 envs
one Polyak per vector step with the compounded rate ``1 - (1 - tau)^(N/4)`` (the same target
after each vector step, in fewer calls: this favours SB3). Both run with the same torch and
BLAS thread limit. Prints env-steps/s for each row and the ratio per env count; with
``--write`` the table goes to docs/benchmarks.md.

    python bench/train.py [--steps 40000] [--n-envs 1 16] [--threads 1] [--write]
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
from regime_trader.utils.threads import compute_threads

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


def sb3_schedule(n_envs: int, train_freq: int, tau: float) -> dict:
    """SB3 settings giving ``n_envs / train_freq`` gradient steps per vector step and the
    same target after each vector step as one Polyak update per gradient step."""
    if n_envs >= train_freq:
        if n_envs % train_freq:
            raise SystemExit(f"--n-envs {n_envs} must be a multiple of train_freq {train_freq}")
        k = n_envs // train_freq
        return {"train_freq": 1, "gradient_steps": k, "tau": 1 - (1 - tau) ** k,
                "target_update_interval": n_envs}  # fmt: skip
    if train_freq % n_envs:
        raise SystemExit(f"train_freq {train_freq} must be a multiple of --n-envs {n_envs}")
    every = train_freq // n_envs  # vector steps per gradient step
    return {"train_freq": every, "gradient_steps": 1, "tau": tau,
            "target_update_interval": every * n_envs}  # fmt: skip


def run_sb3(cfg: Config, data, steps: int, n_envs: int) -> float:
    from stable_baselines3 import DQN
    from stable_baselines3.common.vec_env import DummyVecEnv

    def make() -> TradingEnv:
        return TradingEnv(data.market, cfg.env, random_start=True,
                          start=data.split.train.start, end=data.split.train.stop - 3)  # fmt: skip

    env = DummyVecEnv([make] * n_envs)
    env.seed(0)
    a = cfg.agent
    model = DQN(
        "MultiInputPolicy",
        env,
        learning_rate=a.lr,
        buffer_size=a.buffer_size,
        learning_starts=a.learning_starts,
        batch_size=a.batch_size,
        gamma=a.gamma,
        policy_kwargs={"net_arch": list(a.hidden)},
        device="cpu",
        seed=0,
        verbose=0,
        **sb3_schedule(n_envs, a.train_freq, a.tau),
    )
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40_000)
    ap.add_argument("--n-envs", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    table = ["| envs | trainer | env-steps/s | ours / SB3 |", "|---:|---|---:|---:|"]
    with compute_threads(args.threads):
        data = prepare(bench_config(args.steps, 1), device="cpu")
        for n in args.n_envs:
            cfg = bench_config(args.steps, n)
            sb3 = run_sb3(cfg, data, args.steps, n)
            ours = run_ours(cfg, data)
            table += [f"| {n} | Stable-Baselines3 DQN (DummyVecEnv of TradingEnv) | {sb3:,.0f} | |",
                      f"| {n} | regime-trader (VectorTradingEnv) | {ours:,.0f} | **{ours / sb3:.2f}x** |"]  # fmt: skip
            print("\n".join(table[-2:]), flush=True)
    text = "\n".join(table)
    print(text)
    if args.write:
        envs = " ".join(map(str, args.n_envs))
        cmd = f"python bench/train.py --steps {args.steps} --n-envs {envs} --threads {args.threads} --write"
        obs = f"{cfg.env.window}x{data.market.n_features} window + position"
        section = (
            f"{MARK}\n## Training speed: ours vs Stable-Baselines3 DQN, equal work\n\n"
            f"Same data (S&P 500 training split), same MLP (64, 64) over a {obs}, batch 32, one "
            f"gradient step per 4 env steps at every env count (replay ratio 8), one Polyak update "
            f"(tau {cfg.agent.tau}) per gradient step (SB3 with more than 4 envs: the compounded "
            f"rate once per vector step, see bench/train.py), learning from step 1,000, "
            f"{args.steps:,} env steps per row, {args.threads} torch and BLAS thread(s), CPU "
            f"({platform.processor() or platform.machine()}), torch {torch.__version__}.\n\n"
            f"Command: `{cmd}`\n\n{text}\n{MARK}\n"
        )
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
