"""A trained tiny package end to end, as a user runs it: `paper`, `monitor`, and `serve` from
the registry in a subprocess that is killed with SIGKILL and restarted mid-stream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from _tiny import AUTH, TOKEN, bar_json

import regime_trader
from regime_trader.cli import run
from regime_trader.config import Config
from regime_trader.package import build_package, load
from regime_trader.registry import open_registry
from regime_trader.serve.paper import backtest_decisions
from regime_trader.training import train
from regime_trader.utils.dates import utc

TINY = {
    "data": {"train_end": None, "val_end": None},
    "env": {"window": 10},
    "agent": {"hidden": [32, 32], "learning_starts": 500, "batch_size": 32},
    "train": {"total_steps": 3000, "eval_every": 1500, "n_envs": 8, "seed": 0},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, ohlcv_factory, csv_writer):
    """(csv, package v1, package v2, registry root) from one tiny training run."""
    root = tmp_path_factory.mktemp("e2e")
    csv = csv_writer(ohlcv_factory(700, seed=5), root / "bars.csv")
    cfg = Config.from_dict({**TINY, "data": {**TINY["data"], "source": str(csv)}})
    train(cfg, root / "run", progress=False)
    v1 = build_package(root / "run", root / "pkg1", name="tiny", version="1.0.0")
    v2 = build_package(root / "run", root / "pkg2", name="tiny", version="1.1.0")
    reg = open_registry(root / "registry", backend="local")
    first = reg.register(v1)
    reg.promote(first.name, first.version, reason="first model")
    return csv, Path(v1), Path(v2), root / "registry"


@pytest.mark.slow  # trains 3,000 steps (~10 s on two busy cores)
def test_paper_and_monitor_cli(trained, tmp_path, capsys) -> None:
    csv, pkg, _, _ = trained
    out = tmp_path / "paper"
    code = run(["paper", str(pkg), "--data", str(csv), "--out", str(out), "--window", "20"])
    text = capsys.readouterr().out
    assert code == 0, text
    n = sum(1 for _ in (out / "record.csv").open()) - 1
    assert f"{n:,} decisions, {n:,} equal to the backtest's" in text
    assert (out / "monitor.html").is_file()
    assert run(["monitor", str(out / "monitor.db")]) == 0
    first = pd.Timestamp(capsys.readouterr().out.split(" decisions, ")[1][:10], tz="UTC")
    val_end = utc(regime_trader.load(pkg).metadata["split"]["val"]["end"])
    assert first > val_end  # the replay is out of sample by default
    assert run(["monitor", str(tmp_path / "missing.db")]) == 2
    code = run(["paper", str(pkg), "--data", str(csv), "--out", str(out), "--start", "2010-06-01"])
    assert code == 2  # inside the training and validation bars: refused
    assert "--allow-in-sample" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], port: int) -> subprocess.Popen:
    env = {**os.environ, "REGIME_TRADER_API_KEY": TOKEN}
    cmd = [sys.executable, "-m", "regime_trader.cli", "serve", *args, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
    proc.kill()
    raise AssertionError("serve did not start")


@pytest.mark.slow
def test_kill_9_restart_and_promotion(trained, tmp_path) -> None:
    """SIGKILL mid-stream; the restarted service rebuilds the session from its bar log and
    the decisions still equal the backtest's; a promotion is picked up by the watcher."""
    csv, pkg1, pkg2, registry = trained
    from regime_trader.data import load_ohlcv

    bars = load_ohlcv(str(csv)).iloc[:300]
    port = _free_port()
    args = [
        "registry:tiny@champion",
        "--registry",
        str(registry),
        "--sessions-db",
        str(tmp_path / "sessions.db"),
        "--watch",
        "0.5",
    ]
    url = f"http://127.0.0.1:{port}"
    got = []

    def send(i: int) -> None:
        r = httpx.post(
            f"{url}/v1/decide",
            json={"bar": bar_json(bars, i), "session_id": "live"},
            headers=AUTH,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        if r.json()["ready"]:
            got.append(r.json()["action"])

    proc = _start(args, port)
    try:
        for i in range(150):
            send(i)
    finally:
        proc.kill()  # SIGKILL: no shutdown code runs
        proc.wait()
    proc = _start(args, port)
    try:
        for i in range(150, len(bars)):
            send(i)
        assert got == list(backtest_decisions(load(pkg1), bars)["action"])
        reg = open_registry(registry, backend="local")
        second = reg.register(pkg2)
        reg.promote(second.name, second.version, reason="newer")
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/v1/model", headers=AUTH).json()["version"] != "1.1.0":
            assert time.monotonic() < deadline, "the watcher did not pick up the champion"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
