"""Tracking overhead per run: the same tiny training with ``tracking.backend`` none, jsonl
and mlflow (a fresh SQLite store each time, so MLflow's import-free part and its database
migrations are paid as a first run pays them), alternating within each repeat.

Each measurement is a fresh Python process (MLflow's import is part of the cost), run
alternately so load on the shared machine hits every backend alike; the table gives the
median wall time of ``train()`` and the overhead against ``none``.

    python bench/tracking.py --repeat 3 --write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _docs import replace_section

CHILD = r"""
import json, sys, time
from pathlib import Path
from regime_trader.config import Config
from regime_trader.training import train
out, backend = Path(sys.argv[1]), sys.argv[2]
cfg = Config().with_budget("tiny").override(
    tracking={"backend": backend, "uri": f"sqlite:///{out}/mlflow.db"},
)
t0 = time.perf_counter()
train(cfg, out / "run", progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""
MARK = "<!-- bench/tracking.py -->"


def _once(backend: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env_py = [sys.executable, "-c", CHILD, tmp, backend]
        res = subprocess.run(env_py, capture_output=True, text=True, check=True)
        return float(json.loads(res.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    backends = ("none", "jsonl", "mlflow")
    times: dict[str, list[float]] = {b: [] for b in backends}
    load = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for b in backends:  # alternate, so background load hits each alike
            times[b].append(_once(b))
            load.append(os.getloadavg()[0])
    med = {b: statistics.median(v) for b, v in times.items()}
    lines = [
        MARK,
        "## Tracking overhead per run (`bench/tracking.py`)",
        "",
        f"`python bench/tracking.py --repeat {args.repeat} --write`: the same MLP training "
        "(spx, `--budget tiny`: 20,000 env steps) in a fresh process per measurement, a fresh "
        "MLflow SQLite store each time; median of the repeats, 2 shared CPU cores. MLflow "
        "starts in a background thread (`training/tracking_background.py`), so its import and "
        "database set-up overlap the training instead of preceding it.",
        "",
        "| backend | train() wall time (s) | overhead vs none (s) |",
        "|---|---|---|",
        *(f"| {b} | {med[b]:.2f} | {med[b] - med['none']:+.2f} |" for b in backends),
        "",
        f"1-minute load average {min(load):.1f} to {max(load):.1f} during the run.",
        "",
        MARK,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(MARK, text)


if __name__ == "__main__":
    main()
