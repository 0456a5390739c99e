"""Uptrend fine-tuning on real daily series: kept how often, and does it carry to test?

    python bench/finetune.py [--steps 10000] [--finetune-steps 3000] [--write]

For each series x seed: train a 10k-step MLP run (window 10, 5 bps, 70/15/15 split), then
fine-tune it twice from the same weights on the same steps — uptrend quota 0.5 and the
balanced control 0.25 — and record whether each was kept (validation Sharpe only) and the test
Sharpe change of the kept ones (information only; never used to decide). Equal work: both
fine-tunes get the same steps, seed, learning-rate scale and validations.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402
from regime_trader.api import backtest_run  # noqa: E402
from regime_trader.config import Config  # noqa: E402
from regime_trader.data.split_report import load_split  # noqa: E402
from regime_trader.training import train  # noqa: E402
from regime_trader.training.finetune import finetune_uptrend  # noqa: E402

DAILY = Path(__file__).resolve().parents[2] / "shared" / "data" / "daily"
SERIES = ("SPX", "AAPL", "NVDA", "ORCL", "INTC", "YHOO")
DOC = Path(__file__).resolve().parents[1] / "docs" / "finetune.md"
MARK = "<!-- bench-finetune -->"


def _config(source: Path, steps: int, seed: int) -> Config:
    return Config.from_dict(
        {
            "data": {"source": str(source), "train_end": None, "val_end": None},
            "env": {"window": 10},
            "agent": {"hidden": [32, 32], "learning_starts": 500, "batch_size": 32},
            "train": {"total_steps": steps, "eval_every": steps // 4, "n_envs": 8, "seed": seed},
            "tracking": {"backend": "none"},
        }
    )


def _test_sharpe(run: Path, source: Path) -> float:
    start = load_split(run)["test"]["start"]
    ev = backtest_run(run, str(source), run / "test", start=start, device="cpu")
    return float(ev.metrics["strategy"]["sharpe"])


def measure(steps: int, ft_steps: int, seeds: tuple[int, ...]) -> dict[float, list[dict]]:
    out: dict[float, list[dict]] = {0.5: [], 0.25: []}
    root = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    for name in SERIES:
        source = next(DAILY.glob(f"{name}_1d_*.csv.gz"))
        for seed in seeds:
            run = root / f"{name}-{seed}"
            train(_config(source, steps, seed), run, progress=False)
            base = _test_sharpe(run, source)
            for quota in out:
                res = finetune_uptrend(run, run / f"ft{quota}", steps=ft_steps, uptrend_quota=quota)
                test = _test_sharpe(res.run_dir, source) if res.kept else base
                out[quota].append(
                    {
                        "kept": res.kept,
                        "val": res.val_sharpe_after - res.val_sharpe_before,
                        "best_val": res.val_sharpe_after,
                        "test": test - base,
                    }
                )
    return out


def table(out: dict[float, list[dict]], command: str) -> str:
    lines = [
        MARK,
        "",
        f"Command: `{command}`",
        "",
        "| uptrend quota | kept | validation Sharpe change (kept runs) | test Sharpe change (kept runs, information only) |",
        "|---|---:|---:|---|",
    ]
    for quota, recs in out.items():
        kept = [r for r in recs if r["kept"]]
        val = np.mean([r["val"] for r in kept]) if kept else float("nan")
        ups = sum(r["test"] > 0 for r in kept)
        test = np.mean([r["test"] for r in kept]) if kept else float("nan")
        lines.append(
            f"| {quota} | {len(kept)} / {len(recs)} | {val:+.2f} | {ups} up, {len(kept) - ups} down, mean {test:+.2f} |"
        )
    higher = sum(a["best_val"] > b["best_val"] for a, b in zip(out[0.25], out[0.5], strict=True))
    lines += [
        "",
        f"Balanced quota (0.25) reached a higher validation Sharpe than 0.5 on {higher} of {len(out[0.5])} runs.",
        "",
        MARK,
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--finetune-steps", type=int, default=3_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    command = "python bench/finetune.py " + " ".join(sys.argv[1:])
    text = table(measure(args.steps, args.finetune_steps, tuple(args.seeds)), command.strip())
    print(text)
    if args.write:
        replace_section(MARK, text, DOC)


if __name__ == "__main__":
    main()
