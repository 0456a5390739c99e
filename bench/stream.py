"""In-process decision compute of the service, per bar: no HTTP, one thread.

* ``StreamSession.step``: one bar of a stream (streaming features, regime label, window,
  net at every position, rule), the session preloaded past every warm-up (400 bars);
* ``SessionManager.step``: what a stream request computes (a clone of the session stepped,
  one committed bar-log row in a SQLite file);
* ``decide_bars`` / ``ModelPackage.decide`` on one 60-bar window (features and regimes
  rebuilt from the bars: a window request holds no state), and a largest window request
  as the service answers it (JSON parsed, validated, checked, decided).

Default config (30-bar window of 13 features, regime window 126 over 250 vols), untrained nets
(`build_net`, fixed seed), one torch thread. Times are the median (p50) and 90th percentile of
``--bars`` calls after 100 untimed ones.

    python bench/stream.py [--bars 2000] [--nets mlp,enhanced] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from load import _bars
from regime_trader.serve.schemas import MAX_BARS

MARK = "<!-- bench/stream.py -->"
PRELOAD = 400


def _model(net: str, bars: list[dict[str, Any]]) -> Any:
    from regime_trader.config import Config
    from regime_trader.features import Scaler, build_features
    from regime_trader.nets import build_net
    from regime_trader.package import ModelPackage
    from regime_trader.policy.rule import DecisionRule

    frame = _frame(bars)
    cfg = Config().override(agent={"net": net})
    fs = build_features(frame, cfg.features)
    torch.manual_seed(0)
    q = build_net(cfg.agent, cfg.env.window, len(fs.names)).eval()
    meta = {"name": f"bench-{net}", "version": "0.0.0"}
    scaler = Scaler.fit(fs.values, fs.names)
    return ModelPackage(cfg, q, scaler, DecisionRule(), lookback=fs.lookback, metadata=meta)


def _frame(bars: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(bars).set_index("timestamp")
    frame.index = pd.to_datetime(frame.index, utc=True)
    return frame


def _times(fn: Callable[[int], object], n: int, warmup: int = 100) -> np.ndarray:
    """Milliseconds of ``fn(i)`` for i in [warmup, warmup + n), after ``warmup`` calls."""
    for i in range(warmup):
        fn(i)
    out = np.empty(n)
    for k in range(n):
        t0 = time.perf_counter()
        fn(warmup + k)
        out[k] = time.perf_counter() - t0
    return out * 1e3


def measure(net: str, n: int) -> list[tuple[str, np.ndarray]]:
    from regime_trader.serve import ModelHolder, SessionManager
    from regime_trader.serve.answers import window_answer
    from regime_trader.serve.decide import decide_bars
    from regime_trader.serve.limits import BarLimits
    from regime_trader.serve.schemas import DecideRequest
    from regime_trader.serve.streaming import StreamSession

    bars = _bars(PRELOAD + 2 * (n + 100) + 10)
    model = _model(net, bars)
    session = StreamSession("bench", model)
    for bar in bars[:PRELOAD]:
        session.step(bar, model, decide=False)
    stream = bars[PRELOAD:]
    rows = [("`StreamSession.step`", _times(lambda i: session.step(stream[i], model), n))]
    manager = SessionManager(ModelHolder(model=model), tempfile.mkdtemp() + "/sessions.db")
    manager.preload("s", bars[: PRELOAD + n + 100])
    rest = bars[PRELOAD + n + 100 :]
    managed = _times(lambda i: manager.step("s", rest[i]), n)
    rows.append(("`SessionManager.step` (clone + step + SQLite commit)", managed))
    frame = _frame(bars)
    windows = [frame.iloc[i : i + 60] for i in range(0, len(frame) - 60, 7)]
    m = min(n, len(windows) - 20, 300)
    rows.append(
        ("`decide_bars`, 60-bar window", _times(lambda i: decide_bars(model, windows[i]), m, 20))
    )
    rows.append(
        ("`ModelPackage.decide`, 60 bars", _times(lambda i: model.decide(windows[i]), m, 20))
    )
    body = json.dumps({"bars": _bars(MAX_BARS), "position": 0})
    limits = BarLimits()

    def big(_: int) -> object:
        return window_answer(model, DecideRequest.model_validate(json.loads(body)), limits)

    rows.append((f"{MAX_BARS:,}-bar window request (parse + check + decide)", _times(big, 20, 3)))
    manager.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--bars", type=int, default=2000, help="timed calls per stream row")
    ap.add_argument("--nets", default="mlp,enhanced")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as `regime-trader serve --threads 1`
    load = os.getloadavg()
    lines = ["| net | what | calls | p50 ms | p90 ms | mean ms |", "|---|---|---:|---:|---:|---:|"]
    for net in args.nets.split(","):
        for what, ms in measure(net, args.bars):
            p50, p90 = np.percentile(ms, [50, 90])
            lines.append(
                f"| {net} | {what} | {len(ms):,} | {p50:.3f} | {p90:.3f} | {ms.mean():.3f} |"
            )
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    if args.write:
        cmd = f"python bench/stream.py --bars {args.bars} --nets {args.nets} --write"
        cpu = platform.processor() or platform.machine()
        section = (
            f"{MARK}\n## Decision compute per bar, in process\n\n"
            "What the service computes for one request, without HTTP, on one thread: a stream "
            f"session preloaded with {PRELOAD} bars (past every warm-up, so each bar has a live "
            "regime label), default config (30-bar window, 13 features), untrained nets, one "
            f"torch thread. CPU {cpu}, {os.cpu_count()} cores shared with other work (load "
            f"average {load[0]:.1f} at the start); {time.strftime('%Y-%m-%d')}.\n\n"
            f"Command: `{cmd}`\n\n{table}\n\n"
            "The window row's p90 is a full garbage collection of this process (about "
            "250,000 objects, 100-150 ms) landing in a call; `regime-trader serve` freezes "
            f"what it holds at start out of the collector's reach (`serve.server`).\n{MARK}\n"
        )
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
