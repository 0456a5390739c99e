"""What `metadata.json` and `metrics.json` of a package say about the model and its data.

Everything here reads a run folder (or the bars it was trained on) and returns JSON-ready
dicts; nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regime_trader.config import Config
from regime_trader.errors import RegimeTraderError

OHLCV = ("open", "high", "low", "close", "volume")


def git_commit(where: Path | None = None) -> dict[str, Any] | None:
    """The git commit (and whether the tree is dirty) of the source tree; None without git."""
    cwd = where or Path(__file__).resolve().parent

    def git(*args: str) -> str:
        res = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
        return res.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of an OHLCV frame's timestamps (int64 ns) and float64 columns, row-major."""
    digest = hashlib.sha256()
    index = pd.DatetimeIndex(frame.index)
    digest.update(np.asarray(index.as_unit("ns").asi8, dtype="<i8").tobytes())
    cols = [c for c in OHLCV if c in frame.columns]
    values = frame[cols].to_numpy(np.float64)
    digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    digest.update(",".join(cols).encode())
    return digest.hexdigest()


def _span(frame: pd.DataFrame) -> dict[str, Any]:
    if frame.empty:
        return {"bars": 0, "first": None, "last": None, "sha256": None}
    return {
        "bars": len(frame),
        "first": frame.index[0].isoformat(),
        "last": frame.index[-1].isoformat(),
        "sha256": frame_fingerprint(frame),
    }


def data_summary(cfg: Config, split: dict[str, Any] | None) -> dict[str, Any]:
    """Fingerprints and regime shares of the bars a run used (None fields when unreadable)."""
    from regime_trader.policy.prepare import load_frame
    from regime_trader.regimes import classify_regimes, regime_shares

    out: dict[str, Any] = {"source": cfg.data.source}
    try:
        frame = load_frame(cfg)
    except (RegimeTraderError, OSError) as exc:
        return {**out, "available": False, "reason": str(exc).splitlines()[0]}
    labels = classify_regimes(frame, cfg.regimes)
    train_end = (split or {}).get("train", {}).get("end")
    train_rows = _rows_to(frame.index, train_end)
    out.update(available=True, all=_span(frame), train=_span(frame.iloc[:train_rows]))
    out["regime_shares"] = {
        "all": regime_shares(labels),
        "train": regime_shares(labels[:train_rows]),
    }
    return out


def _rows_to(index: pd.Index, end: str | None) -> int:
    """Rows up to and including the date ``end`` (all rows when None)."""
    if not end:
        return len(index)
    stamp = pd.Timestamp(end)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    index = pd.DatetimeIndex(index)
    if len(str(end)) > 10:  # a timestamp (intraday bars): rows up to and including it
        return int(index.searchsorted(stamp, "right"))
    return int(index.searchsorted(stamp + pd.Timedelta(days=1), "left"))  # a whole day


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _json_or_none(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """Validation (from ``train_log.jsonl``) and test metrics (``test/metrics.json`` or the
    run's own ``metrics.json``) of a run; absent parts are None."""
    log = _json_lines(run_dir / "train_log.jsonl")
    scored = [r for r in log if "eval/val_sharpe" in r]
    best = max(scored, key=lambda r: r["eval/val_sharpe"]) if scored else None
    validation = None
    if best is not None:
        validation = {
            "best_sharpe": best["eval/val_sharpe"],
            "best_total_return": best.get("eval/val_total_return"),
            "best_at_env_steps": best.get("env_steps"),
            "evaluations": len(scored),
        }
    test_dir = next(
        (d for d in (run_dir / "test", run_dir) if (d / "metrics.json").is_file()), None
    )
    test = _json_or_none(test_dir / "metrics.json") if test_dir else None
    return {
        "validation": validation,
        "test": test,
        "test_folder": None if test_dir is None else str(test_dir.relative_to(run_dir)),
    }


def test_sharpe_cis(run_dir: Path, folder: str | None, seed: int = 0) -> dict[str, Any] | None:
    """Bootstrap CIs of the test Sharpe and of its difference to buy-and-hold, from the
    test backtest's ``equity.csv`` (stationary block bootstrap, `sharpe_difference_ci`)."""
    from regime_trader.evaluation.stats import sharpe_difference_ci
    from regime_trader.policy.metrics import bars_per_year

    path = run_dir / (folder or ".") / "equity.csv"
    if folder is None or not path.is_file():
        return None
    eq = pd.read_csv(path, index_col=0, parse_dates=True)
    if "strategy" not in eq or len(eq) < 12:
        return None
    # equity columns only (regime is a name); row 0 is the start at 1.0, so these are the
    # step returns
    rets = eq[[c for c in ("strategy", "buy_and_hold") if c in eq]].pct_change().iloc[1:]
    bpy = bars_per_year(pd.DatetimeIndex(eq.index))
    out: dict[str, Any] = {}
    for name, other in (("sharpe", None), ("sharpe_minus_buy_and_hold", "buy_and_hold")):
        if other is not None and other not in rets:
            continue
        b = np.zeros(len(rets)) if other is None else rets[other].to_numpy()
        ci = sharpe_difference_ci(
            rets["strategy"].to_numpy(), b, periods_per_year=bpy, n_boot=1000, seed=seed
        )
        out[name] = {"estimate": ci.diff, "low": ci.low, "high": ci.high, "confidence": 0.95}
    return out


def signature(cfg: Config, names: list[str], lookback: int) -> dict[str, Any]:
    """What `decide` takes and returns, and what the network sees."""
    from regime_trader.package.loader import DECISION_COLUMNS

    window = cfg.env.window
    return {
        "inputs": {
            "bars": "OHLCV DataFrame: UTC DatetimeIndex; float columns " + ", ".join(OHLCV),
            "min_bars": lookback + window + 3,
            "network": {
                "window": f"float32[B, {window}, {len(names)}]",
                "position": "float32[B, 1] (side held: -1, 0, 1)",
            },
        },
        "outputs": {
            "decide": list(DECISION_COLUMNS),
            "network": "float32[B, 3] Q-values (hold, sell, buy)"
            + ("; regime logits [B, 4]" if cfg.agent.net != "mlp" else ""),
            "actions": {"0": "hold", "1": "sell (flat, or short when allowed)", "2": "buy"},
        },
    }


def environment() -> dict[str, Any]:
    """Library versions the package was written with."""
    import torch

    from regime_trader.version import __version__

    return {
        "regime_trader": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
