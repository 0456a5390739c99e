"""The three Q-networks trained side by side on equal work: speed and validation Sharpe.

Trains the baseline MLP, the EnhancedDQN and the EnsembleTrader one after another in one
process with the SAME config apart from ``agent.net``: data (S&P 500 demo split), env-step
budget, seed, number of envs, batch size, gradient steps per env step (the replay ratio),
target updates and exploration schedule. Reports env-steps/s, wall time and the best
validation Sharpe of each, and each net's speed relative to the MLP measured in this run.

    python bench/agents.py [--steps 300000] [--seeds 0] [--nets mlp enhanced ensemble]
                           [--batch-size 128] [--train-freq 16] [--lstm-steps 4]
                           [--threads 1] [--write]

``--write`` replaces this benchmark's section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile

import torch

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from regime_trader.config import Config
from regime_trader.data.datasets import dataset_split
from regime_trader.training import prepare, train

MARK = "<!-- bench/agents.py -->"


def bench_config(args: argparse.Namespace, net: str, seed: int) -> Config:
    """One config for every net: only ``agent.net`` differs."""
    return Config().override(
        data={"source": "spx", **dataset_split("spx")},
        agent={
            "net": net,
            "batch_size": args.batch_size,
            "train_freq": args.train_freq,
            "lstm_steps": args.lstm_steps,
        },  # fmt: skip
        train={
            "total_steps": args.steps,
            "eval_every": max(args.steps // 10, 1000),
            "seed": seed,
            "threads": args.threads,
            "device": "cpu",
        },
        tracking={"backend": "none"},
    )


def run(args: argparse.Namespace) -> list[dict]:
    rows = []
    data = prepare(bench_config(args, "mlp", 0), device="cpu")
    for net in args.nets:
        speeds, sharpes, secs = [], [], []
        for seed in args.seeds:
            cfg = bench_config(args, net, seed)
            with tempfile.TemporaryDirectory() as tmp:
                res = train(cfg, tmp, data=data, progress=False)
            speeds.append(res.steps_per_second)
            sharpes.append(res.best_val_sharpe)
            secs.append(res.seconds)
            print(f"{net} seed {seed}: {res.steps_per_second:,.0f} env-steps/s, "
                  f"{res.seconds:.0f} s, best val Sharpe {res.best_val_sharpe:.2f}", flush=True)  # fmt: skip
        rows.append({"net": net, "sps": statistics.median(speeds), "seconds": statistics.median(secs),
                     "sharpe": statistics.mean(sharpes), "sharpes": sharpes})  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    base = next((r["sps"] for r in rows if r["net"] == "mlp"), None)
    out = [
        "| net | env-steps/s | wall s | speed vs MLP | best validation Sharpe (mean; per seed) |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        rel = f"{r['sps'] / base:.2f}x" if base else ""
        seeds = ", ".join(f"{s:.2f}" for s in r["sharpes"])
        out.append(
            f"| {r['net']} | {r['sps']:,.0f} | {r['seconds']:,.0f} | {rel} | {r['sharpe']:.2f} ({seeds}) |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nets", nargs="+", default=["mlp", "enhanced", "ensemble"])
    ap.add_argument("--batch-size", type=int, default=Config().agent.batch_size)
    ap.add_argument("--train-freq", type=int, default=Config().agent.train_freq)
    ap.add_argument("--lstm-steps", type=int, default=Config().agent.lstm_steps)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    text = table(run(args))
    print(text)
    if args.write:
        a = Config().agent
        cmd = (
            f"python bench/agents.py --steps {args.steps} --seeds {' '.join(map(str, args.seeds))} "
            f"--nets {' '.join(args.nets)} --batch-size {args.batch_size} "
            f"--train-freq {args.train_freq} --lstm-steps {args.lstm_steps} "
            f"--threads {args.threads} --write"
        )
        ratio = args.batch_size / args.train_freq
        section = (
            f"{MARK}\n## Agents on equal work: MLP vs EnhancedDQN vs EnsembleTrader\n\n"
            f"One process, one after another, the same config but `agent.net`: S&P 500 demo split, "
            f"{args.steps:,} env steps, {Config().train.n_envs} envs, batch {args.batch_size}, one "
            f"gradient step per {args.train_freq} env steps (replay ratio {ratio:g} samples per "
            f"env step), Polyak tau {a.tau} per gradient step, seeds {args.seeds}. EnhancedDQN "
            f"d_model {a.d_model}, {a.lstm_layers} LSTM layer(s) over the last {args.lstm_steps} bars. "
            f"CPU ({platform.machine()}), {args.threads} thread(s), torch {torch.__version__}.\n\n"
            f"Command: `{cmd}`\n\n{text}\n{MARK}\n"
        )
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
