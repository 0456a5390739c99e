"""Loopback load test of `POST /v1/decide`: one-bar stream decisions at concurrency 1, 8, 32.

The service runs in a child process (uvicorn, one torch thread, the default config: 30-bar
window of the 13 default features); the client is this process, one thread and one stream
session per concurrent user, each session preloaded with 120 bars of history so that every
timed request is a full decision (features, regimes, window, net at every position, rule).
The nets are untrained (`build_net` with a fixed seed): latency does not depend on the weights.
Bounded: at most ``--requests`` per level and ``--seconds`` per level; loopback only.

    python bench/load.py [--requests 400] [--seconds 30] [--write]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import socket
import threading
import time

import httpx
import numpy as np
import pandas as pd

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)

MARK = "<!-- bench/load.py -->"
TOKEN = "bench-token-0123456789abcdef"
LEVELS = (1, 8, 32)
PRELOAD = 120


def _bars(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(0.0003 + 0.01 * rng.standard_normal(n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.004
    low = np.minimum(open_, close) * 0.996
    idx = pd.date_range("2000-01-03", periods=n, freq="D", tz="UTC")
    return [
        {"timestamp": t.isoformat(), "open": o, "high": h, "low": lo, "close": c}
        for t, o, h, lo, c in zip(idx, open_, high, low, close, strict=True)
    ]


def _serve_child(net: str, port: int, sessions: int, n_bars: int, ready) -> None:  # noqa: ANN001
    import torch

    from regime_trader.config import Config
    from regime_trader.evaluation.decisions import DecisionRule
    from regime_trader.features import Scaler, build_features
    from regime_trader.nets import build_net
    from regime_trader.package import ModelPackage
    from regime_trader.serve import ModelHolder, SessionManager, create_app
    from regime_trader.serve.server import serve_forever

    torch.set_num_threads(1)
    bars = _bars(n_bars)
    frame = pd.DataFrame(bars).set_index("timestamp")
    frame.index = pd.to_datetime(frame.index, utc=True)
    cfg = Config().override(agent={"net": net})
    fs = build_features(frame, cfg.features)
    torch.manual_seed(0)
    q = build_net(cfg.agent, cfg.env.window, len(fs.names)).eval()
    meta = {"name": f"bench-{net}", "version": "0.0.0"}
    model = ModelPackage(
        cfg, q, Scaler.fit(fs.values, fs.names), DecisionRule(), meta, None, fs.lookback
    )
    holder = ModelHolder(model=model)
    manager = SessionManager(holder)
    for s in range(sessions):
        manager.preload(f"u{s}", bars[:PRELOAD])
    ready.put(sum(p.numel() for p in q.parameters()))
    serve_forever(create_app(holder, token=TOKEN, sessions=manager), "127.0.0.1", port)


def _user(
    url: str, sid: str, bars: list[dict], n: int, stop: float, out: list, errors: list
) -> None:
    # TCP_NODELAY: headers and body leave in two writes; with Nagle plus the server's delayed
    # ACK a request can wait ~40 ms for nothing
    nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=auth, timeout=30, transport=nodelay) as c:
        for bar in bars[:n]:
            if time.perf_counter() > stop:
                return
            t0 = time.perf_counter()
            r = c.post("/v1/decide", json={"bar": bar, "session_id": sid})
            dt = time.perf_counter() - t0
            if r.status_code != 200 or not r.json()["ready"]:
                errors.append(r.status_code)
            else:
                out.append(dt)


def _level(url: str, conc: int, bars: list[dict], cursor: dict, requests: int, seconds: float):
    """``conc`` clients at once; ``cursor[sid]``: the next bar of each session (no gaps)."""
    per_user = max(1, requests // conc)
    lat: list[float] = []
    errors: list[int] = []
    stop = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=_user, args=(url, f"u{u}", bars[cursor[u] :], per_user, stop, lat, errors)
        )
        for u in range(conc)
    ]
    for u in range(conc):
        cursor[u] += per_user
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.array(lat) * 1e3
    return {
        "concurrency": conc,
        "requests": len(lat),
        "errors": len(errors),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "rps": len(lat) / wall,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_net(net: str, requests: int, seconds: float) -> tuple[int, list[dict]]:
    n_bars = PRELOAD + 3 * requests + 50  # a session never needs more
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    port = _free_port()
    proc = ctx.Process(
        target=_serve_child, args=(net, port, max(LEVELS), n_bars, ready), daemon=True
    )
    proc.start()
    try:
        params = ready.get(timeout=300)
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        bars, rows = _bars(n_bars), []
        cursor = dict.fromkeys(range(max(LEVELS)), PRELOAD)
        _level(url, 1, bars, cursor, 20, seconds)  # warm the connection pool and torch
        for conc in LEVELS:
            row = _level(url, conc, bars, cursor, requests, seconds)
            rows.append(row)
            print(net, row, flush=True)
        return params, rows
    finally:
        proc.terminate()
        proc.join()


def _goal_line(p99: float | None) -> str:
    if p99 is None:
        return ""
    verdict = "met" if p99 <= 20 else "not met on this machine"
    return (
        f"Goal: p99 <= 20 ms for the enhanced net at concurrency 8: {verdict} ({p99:.1f} ms). "
        "One decision costs 2-5 ms of CPU in the process (features, regimes, net at every "
        "position, rule); the rest is HTTP, JSON and validation, and at concurrency 8 the "
        "requests queue behind one Python process: p50 is about concurrency / throughput."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=400, help="requests per level (at most)")
    ap.add_argument("--seconds", type=float, default=30.0, help="time limit per level")
    ap.add_argument("--nets", default="mlp,enhanced", help="comma-separated nets, in order")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    lines = [
        "| net | parameters | concurrency | requests | errors | p50 ms | p99 ms | requests/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for net in args.nets.split(","):
        params, rows = run_net(net, args.requests, args.seconds)
        for r in rows:
            if net == "enhanced" and r["concurrency"] == 8:
                goal = r["p99"]
            lines.append(
                f"| {net} | {params:,} | {r['concurrency']} | {r['requests']:,} | {r['errors']} | "
                f"{r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:,.0f} |"
            )
    table = "\n".join(lines)
    print(table)
    if args.write:
        cmd = f"python bench/load.py --requests {args.requests} --seconds {args.seconds:g} --write"
        section = (
            f"{MARK}\n## Decision service under load (loopback)\n\n"
            "One-bar stream decisions (`POST /v1/decide` with `bar` + `session_id`), one session "
            "per concurrent client, each preloaded with 120 bars; the service in its own process "
            "(uvicorn, 1 torch thread, default config: 30-bar window, 13 features); untrained "
            "nets from `build_net` (latency does not depend on the weights). Latency is measured "
            f"by the client, HTTP included. CPU {platform.processor() or platform.machine()}, "
            f"{mp.cpu_count()} cores shared with other work; {time.strftime('%Y-%m-%d')}.\n\n"
            f"Command: `{cmd}`\n\n{table}\n\n{_goal_line(goal)}\n{MARK}\n"
        )
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
