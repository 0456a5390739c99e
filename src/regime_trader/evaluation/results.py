"""The tidy evaluation table that `evaluate`, `walkforward`, `verify` and `abtest` share.

One row per (series, window, seed, policy, regime). ``regime == "all"`` rows hold the whole
period; the per-regime rows hold the same metrics over the steps spent in that regime
(``capture`` filled on uptrend rows, ``avoidance`` on downtrend rows). Step returns, needed
by the block bootstrap of a Sharpe difference, live in a second long table (`RETURN_COLUMNS`).

Both tables are written as Parquet (``results.parquet``, ``returns.parquet``) with a
``results.json`` summary beside them; `read_results` checks the columns so a reader fails
with the file and the missing column named, not deep inside pandas.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from regime_trader.errors import DataError
from regime_trader.evaluation.strong_baselines import STRONG_BASELINES
from regime_trader.utils.io import atomic_write

KEYS: tuple[str, ...] = ("series", "window", "seed")
"""What pairs two policies' rows: the same bars (series and window) and the same seed."""

RESULT_COLUMNS: tuple[str, ...] = (
    "series",  # scenario kind ("uptrend", ...) or data source ("msft", a file path)
    "kind",  # "synthetic", "real" (held-out test period) or "stress" (worst drawdown window)
    "window",  # walk-forward window number; 0 for a single test period or a scenario
    "seed",  # training seed of the policy (agents) or scenario seed (synthetic bars)
    "policy",  # "original", "enhanced", "ensemble", "calibrated", a run name or a baseline
    "regime",  # "all" or a regime name (true labels on synthetic bars, rule labels on real)
    "start",  # first decision timestamp (ISO)
    "end",  # last decision timestamp (ISO)
    "bars",  # decision steps in this row
    "total_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "num_trades",
    "exposure",
    "turnover",
    "capture",  # uptrend rows: strategy / buy-and-hold compounded return over uptrend bars
    "avoidance",  # downtrend rows: 1 - strategy loss / buy-and-hold loss over downtrend bars
)

RETURN_COLUMNS: tuple[str, ...] = (*KEYS, "policy", "step", "timestamp", "ret", "position")

BASELINE_POLICIES: tuple[str, ...] = (
    "buy_and_hold",
    "sma_crossover",
    "random",
    "oracle",
    *STRONG_BASELINES,
)
"""Rule baselines; ``oracle`` is perfect foresight, an upper bound and labelled so."""


def check_columns(frame: pd.DataFrame, columns: tuple[str, ...], source: str) -> pd.DataFrame:
    """``frame`` if it has every column, else a `DataError` naming ``source`` and the gap."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; it was not written by "
            "`regime-trader evaluate` or `walkforward` (re-run them to rebuild it)"
        )
    return frame


def write_results(out_dir: str | Path, rows: pd.DataFrame, returns: pd.DataFrame) -> Path:
    """Write ``results.parquet`` and ``returns.parquet`` atomically into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = check_columns(rows, RESULT_COLUMNS, "results")[list(RESULT_COLUMNS)]
    returns = check_columns(returns, RETURN_COLUMNS, "returns")[list(RETURN_COLUMNS)]
    atomic_write(out / "results.parquet", lambda p: rows.to_parquet(p, index=False))
    atomic_write(out / "returns.parquet", lambda p: returns.to_parquet(p, index=False))
    return out


def read_results(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables of an `evaluate` / `walkforward` folder, columns checked."""
    folder = Path(folder)
    paths = [folder / "results.parquet", folder / "returns.parquet"]
    for p in paths:
        if not p.is_file():
            raise DataError(
                f"{p}: not found; run `regime-trader evaluate` or `walkforward` with --out {folder}"
            )
    rows = check_columns(pd.read_parquet(paths[0]), RESULT_COLUMNS, str(paths[0]))
    rets = check_columns(pd.read_parquet(paths[1]), RETURN_COLUMNS, str(paths[1]))
    return rows, rets


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds and windows per (kind, series, policy): Sharpe, return, max drawdown
    and trades of the whole period, uptrend capture and downtrend avoidance."""
    whole = rows[rows["regime"] == "all"]
    keys = ["kind", "series", "policy"]
    out = whole.groupby(keys, sort=False)[
        ["sharpe", "total_return", "max_drawdown", "num_trades"]
    ].mean()
    out["runs"] = whole.groupby(keys, sort=False).size()
    up = rows[rows["regime"] == "uptrend"].groupby(keys, sort=False)["capture"].mean()
    down = rows[rows["regime"] == "downtrend"].groupby(keys, sort=False)["avoidance"].mean()
    return out.join(up).join(down).reset_index()
