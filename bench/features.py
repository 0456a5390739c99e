"""Feature speed: our vectorised multi-timeframe features and trend persistence vs the plan's.

On one seeded random walk of one-minute bars (default 1,000,000) with weekend closures and
a few hundred short gaps, times in one run:

(a) ours, in-process: ``multi_timeframe_features`` with the full default feature set and five
    timeframes (5min, 15min, 30min, 60min, 240min);
(b) ours, end to end through the CLI in a subprocess:
    ``regime-trader features IN.parquet --timeframes ... --out OUT.parquet`` (skipped with a
    message when the installed CLI has no ``--timeframes`` option);
(c) the plan's pandas versions: trend persistence with
    ``rolling(20).apply(lambda x: np.sum(x == x.iloc[-1]))`` (about 50 s on 1M bars, so it is
    timed on ``--plan-rows`` bars and extrapolated linearly, which the table says), and the
    plan's multi-timeframe sketch (resample, features, ``reindex(method='ffill')``, columns
    added one by one);
(d) ours: ``trend_persistence`` on all bars (and checked equal to the plan's on its rows).

Prints seconds, ratios (plan / ours) and peak memory (tracemalloc peak of a second, untimed
run of each in-process stage; peak RSS of the CLI child). With ``--write`` it replaces this
benchmark's section of docs/benchmarks.md (between ``<!-- bench/features.py -->`` markers).

    python bench/features.py [--rows 1000000] [--plan-rows 100000] [--repeat 3] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from _timing import call_times  # noqa: E402
from regime_trader.config import FeatureConfig
from regime_trader.features import compute_features
from regime_trader.features.timeframes import multi_timeframe_features
from regime_trader.features.trend import trend_persistence

MARK = "<!-- bench/features.py -->"
TIMEFRAMES = "5min,15min,30min,60min,240min"
AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def make_minutes(n: int, seed: int = 0) -> pd.DataFrame:
    """Seeded geometric random walk of one-minute bars: weekends closed, 500 short gaps."""
    rng = np.random.default_rng(seed)
    steps = np.ones(n, dtype=np.int64)
    steps[rng.choice(n, min(500, n), replace=False)] = rng.integers(2, 11, min(500, n))
    steps[7200::7200] += 2 * 24 * 60  # a two-day closure after every 5 days of minutes
    idx = pd.Timestamp("2020-01-06", tz="UTC") + pd.to_timedelta(np.cumsum(steps) - 1, "min")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 5e-4, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 2e-4, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 2e-4, n)))
    volume = rng.uniform(1.0, 10.0, n)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=pd.DatetimeIndex(idx, name="timestamp"),
    )


def plan_persistence(close: pd.Series, window: int = 20) -> pd.Series:
    """The plan's trend persistence, verbatim."""
    direction = np.sign(close.diff())
    return direction.rolling(window).apply(lambda x: np.sum(x == x.iloc[-1]), raw=False)


def plan_multi_timeframe(df: pd.DataFrame, cfg: FeatureConfig) -> pd.DataFrame:
    """The plan's ``add_multi_timeframe_features`` with ``compute_features`` as its features."""
    out = df.join(compute_features(df, cfg))
    for tf in TIMEFRAMES.split(","):
        resampled = df.resample(tf).agg(AGG)
        feats = compute_features(resampled, cfg).reindex(df.index, method="ffill")
        for col in feats.columns:
            out[f"{col}_{tf}"] = feats[col]
    return out


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of `repeat` wall-clock runs, in seconds."""
    return min(call_times(fn, repeat))


def peak_mib(fn: Callable[[], Any]) -> float:
    """tracemalloc peak of one run of `fn`, in MiB (numpy and pandas buffers included)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def cli_command() -> list[str]:
    """The installed ``regime-trader`` script next to this interpreter, or ``-m`` fallback."""
    script = Path(sys.executable).with_name("regime-trader")
    return [str(script)] if script.exists() else [sys.executable, "-m", "regime_trader.cli"]


def run_cli(df: pd.DataFrame) -> tuple[float, float] | str:
    """(seconds, peak RSS MiB) of the CLI on `df`, or the reason it was skipped."""
    cmd = cli_command()
    helptext = subprocess.run(
        [*cmd, "features", "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "--timeframes" not in helptext:
        return "skipped: the installed CLI has no `features --timeframes` option yet"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.parquet", Path(tmp) / "out.parquet"
        df.to_parquet(src, index=True)
        full = [*cmd, "features", str(src), "--timeframes", TIMEFRAMES, "--out", str(dst)]
        start = time.perf_counter()
        proc = subprocess.run(full, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            return f"failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-300:]}"
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return seconds, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="one-minute bars generated")
    ap.add_argument(
        "--plan-rows", type=int, default=100_000, help="bars for the plan's rolling.apply"
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each fast stage (best)")
    ap.add_argument("--skip-cli", action="store_true", help="do not run the CLI subprocess")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    cfg = FeatureConfig()
    df = make_minutes(args.rows)
    close = df["close"].to_numpy()
    n, n_plan = len(df), min(args.plan_rows, len(df))
    print(f"{n:,} one-minute bars, {df.index[0]} .. {df.index[-1]}", flush=True)

    ours_mtf = best_time(lambda: multi_timeframe_features(df, TIMEFRAMES, cfg), args.repeat)
    ours_pers = best_time(lambda: trend_persistence(close, cfg.persistence_window), args.repeat)
    print(f"ours: multi-timeframe {ours_mtf:.3f} s, persistence {ours_pers:.4f} s", flush=True)
    plan_mtf = best_time(lambda: plan_multi_timeframe(df, cfg), 1)
    print(f"plan: multi-timeframe {plan_mtf:.3f} s", flush=True)
    head = df["close"].iloc[:n_plan]
    start = time.perf_counter()
    want = plan_persistence(head, cfg.persistence_window).to_numpy()
    plan_pers_n = time.perf_counter() - start
    got = trend_persistence(head.to_numpy(), cfg.persistence_window)
    assert np.array_equal(got, want, equal_nan=True), "persistence differs from the plan's"
    plan_pers = plan_pers_n * n / n_plan
    extrapolated = n_plan < n
    print(f"plan: persistence {plan_pers_n:.2f} s on {n_plan:,} bars", flush=True)

    mem_mtf = peak_mib(lambda: multi_timeframe_features(df, TIMEFRAMES, cfg))
    mem_plan_mtf = peak_mib(lambda: plan_multi_timeframe(df, cfg))
    mem_pers = peak_mib(lambda: trend_persistence(close, cfg.persistence_window))
    cli = "skipped: --skip-cli" if args.skip_cli else run_cli(df)

    pers_note = f" (timed on {n_plan:,} bars x {n / n_plan:g}, linear)" if extrapolated else ""
    rows = [
        "| stage | bars | ours s | plan s | plan / ours | peak MiB ours | peak MiB plan |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| features + 5 timeframes, in-process (`multi_timeframe_features` vs plan's "
        f"resample + ffill) | {n:,} | {ours_mtf:.3f} | {plan_mtf:.3f} | "
        f"{plan_mtf / ours_mtf:.1f}x | {mem_mtf:,.0f} | {mem_plan_mtf:,.0f} |",
        f"| trend persistence, window {cfg.persistence_window} (prefix sums vs plan's "
        f"`rolling.apply`{pers_note}) | {n:,} | {ours_pers:.4f} | {plan_pers:.1f} | "
        f"{plan_pers / ours_pers:,.0f}x | {mem_pers:,.0f} | n/a |",
    ]
    if isinstance(cli, tuple):
        rows.append(
            f"| CLI `regime-trader features --timeframes {TIMEFRAMES}` (subprocess: start-up, "
            f"Parquet in/out, validation, regimes) | {n:,} | {cli[0]:.2f} | | | {cli[1]:,.0f} "
            "(peak RSS) | |"
        )
    table = "\n".join(rows)
    checks = [
        f"target full set + five timeframes <= 2 s in-process: {ours_mtf:.2f} s "
        f"{'met' if ours_mtf <= 2.0 else 'MISSED'}",
        f"target persistence >= 1000x the plan's: {plan_pers / ours_pers:,.0f}x "
        f"{'met' if plan_pers / ours_pers >= 1000 else 'MISSED'}",
    ]
    if isinstance(cli, str):
        checks.append(f"CLI: {cli}")
    print(table)
    print("\n".join(checks))
    if args.write:
        write_section(args, table, checks)


def write_section(args: argparse.Namespace, table: str, checks: list[str]) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (or append it)."""
    cmd = (
        f"python bench/features.py --rows {args.rows} --plan-rows {args.plan_rows} "
        f"--repeat {args.repeat}{' --skip-cli' if args.skip_cli else ''} --write"
    )
    cpu = platform.processor() or platform.machine()
    section = (
        f"{MARK}\n## Feature speed: multi-timeframe features and trend persistence vs the plan\n\n"
        f"{args.rows:,} generated one-minute bars (seeded random walk, weekend closures, 500 "
        "short gaps); full default feature set (13 features) on the base bars and on each of "
        f"{TIMEFRAMES}, joined causally. Ours: best of {args.repeat}; plan: one run. Peak "
        "memory: tracemalloc peak of a separate run (RSS for the CLI child). "
        f"{cpu}, {os.cpu_count()} CPU(s), Python {platform.python_version()}, numpy "
        f"{np.__version__}, pandas {pd.__version__}, ta-lib {talib.__version__}.\n\n"
        f"Command: `{cmd}`\n\n{table}\n\n" + "\n".join(f"- {c}" for c in checks) + f"\n{MARK}\n"
    )
    replace_section(MARK, section)


if __name__ == "__main__":
    main()
