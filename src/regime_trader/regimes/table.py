"""Do the regimes mean something? Share, persistence and what buy-and-hold earned after each
label, per series (docs/regimes.md).

The label at bar t uses bars <= t (``classify_regimes``); a decision at t's close fills at
t+1's open, so the forward return credited to that label runs from the open of t+1:
``open[t+1+h] / open[t+1] - 1`` over ``h`` bars (NaN where the series ends first). Nothing
about bar t+1 or later enters the label.

``python -m regime_trader.regimes.table [DIR]`` prints the Markdown table of docs/regimes.md for
every ``*.csv.gz`` in ``DIR`` (default ``/work/shared/data/daily``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from regime_trader.config import RegimeConfig
from regime_trader.regimes.rules import DOWNTREND, REGIME_NAMES, UPTREND, classify_regimes

Labeler = Callable[[pd.DataFrame], np.ndarray]

__all__ = ["forward_returns", "regime_table", "run_lengths", "trend_spread"]


def forward_returns(ohlcv: pd.DataFrame, horizon: int = 1) -> np.ndarray:
    """Buy-and-hold return after each bar's decision: ``open[t+1+h] / open[t+1] - 1``.

    Args:
        ohlcv: Frame with an ``open`` column.
        horizon: Bars held (1: the next step of the accounting).

    Returns:
        float64 ``[T]``; NaN on the last ``horizon + 1`` rows.

    Raises:
        ValueError: For ``horizon < 1`` or a frame without ``open``.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    if "open" not in ohlcv.columns:
        raise ValueError("forward returns need a lower-case 'open' column (fills at the open)")
    o = ohlcv["open"].to_numpy(np.float64)
    out = np.full(o.size, np.nan)
    if o.size > horizon + 1:
        out[: o.size - 1 - horizon] = o[1 + horizon :] / o[1 : o.size - horizon] - 1.0
    return out


def run_lengths(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(code, length)`` of every run of equal labels (unknown runs included).

    Args:
        labels: int labels ``[T]``.

    Returns:
        Two int64 arrays, one entry per run, in order.
    """
    lab = np.asarray(labels, dtype=np.int64)
    if lab.size == 0:
        return lab, lab
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    return lab[starts], np.diff(np.r_[starts, lab.size])


def _config(cfg: object) -> RegimeConfig:
    regimes = getattr(cfg, "regimes", cfg)
    if not isinstance(regimes, RegimeConfig):
        raise TypeError(f"cfg must be a RegimeConfig or a Config, got {type(cfg).__name__}")
    return regimes


def _series_rows(
    name: str, frame: pd.DataFrame, labels: np.ndarray, horizons: Sequence[int]
) -> list[dict]:
    k = len(REGIME_NAMES)
    lab = np.asarray(labels, dtype=np.int64)
    known = lab >= 0
    counts = np.bincount(lab[known], minlength=k)
    codes, lengths = run_lengths(lab)
    runs = np.bincount(codes[codes >= 0], minlength=k)
    run_bars = np.bincount(codes[codes >= 0], weights=lengths[codes >= 0], minlength=k)
    fwd = {}
    for h in horizons:
        r = forward_returns(frame, h)
        ok = known & np.isfinite(r)
        n = np.bincount(lab[ok], minlength=k)
        total = np.bincount(lab[ok], weights=r[ok], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            fwd[h] = (total / n, n)
    rows = []
    for code, regime in enumerate(REGIME_NAMES):
        row = {"series": name, "regime": regime, "bars": int(counts[code])}
        row["share"] = float(counts[code] / counts.sum()) if counts.sum() else np.nan
        row["mean_run"] = float(run_bars[code] / runs[code]) if runs[code] else np.nan
        for h, (mean, n) in fwd.items():
            row[f"fwd_{h}"] = float(mean[code]) if n[code] else np.nan
        rows.append(row)
    return rows


def regime_table(
    frames: Mapping[str, pd.DataFrame],
    cfg: object = RegimeConfig(),
    *,
    horizons: Sequence[int] = (1, 20),
    labeler: Labeler | None = None,
) -> pd.DataFrame:
    """Per series and regime: bars, share, mean run length and mean forward return.

    Args:
        frames: ``{series: OHLCV frame}`` (``open`` and ``close`` columns).
        cfg: A ``RegimeConfig`` (or a ``Config``, whose ``regimes`` section is used).
        horizons: Forward horizons in bars (``fwd_{h}`` columns, see :func:`forward_returns`).
        labeler: Labels of a frame instead of ``classify_regimes(frame, cfg)`` (e.g. a
            fitted Markov detector's ``labels``); must be causal.

    Returns:
        Frame indexed by ``(series, regime)`` with ``bars`` (labelled bars in the regime),
        ``share`` (of the series' known labels), ``mean_run`` (bars per run of the regime),
        and ``fwd_{h}``: the mean ``h``-bar buy-and-hold return from the next open after a
        bar with that label (a fraction, not annualised); NaN where the regime never occurs.
    """
    rcfg = _config(cfg)
    rows: list[dict] = []
    for name, frame in frames.items():
        labels = labeler(frame) if labeler is not None else classify_regimes(frame, rcfg)
        if len(labels) != len(frame):
            raise ValueError(f"{name}: {len(labels)} labels for {len(frame)} bars")
        rows += _series_rows(str(name), frame, labels, horizons)
    return pd.DataFrame(rows).set_index(["series", "regime"])


def trend_spread(table: pd.DataFrame, horizon: int = 1, min_bars: int = 20) -> pd.Series:
    """Per series: mean forward return after uptrend labels minus after downtrend labels.

    Args:
        table: Output of :func:`regime_table`.
        horizon: Which ``fwd_{h}`` column.
        min_bars: Bars each of the two regimes needs; NaN otherwise.

    Returns:
        Series indexed by series name (positive: the uptrend label was followed by more).
    """
    col = f"fwd_{horizon}"
    up = table.xs(REGIME_NAMES[UPTREND], level="regime")
    down = table.xs(REGIME_NAMES[DOWNTREND], level="regime")
    ok = (up["bars"] >= min_bars) & (down["bars"] >= min_bars)
    return (up[col] - down[col]).where(ok).rename(f"up_minus_down_{col}")


def _markdown(table: pd.DataFrame) -> str:
    """One row per series: share and mean run of each regime, forward returns in bp/bar."""
    head = "| series | " + " | ".join(f"{r[:4]} share / run" for r in REGIME_NAMES)
    head += " | run | up 1-bar bp | down 1-bar bp | up 20-bar bp/bar | down 20-bar bp/bar |"
    lines = [head, "|---" * (len(REGIME_NAMES) + 6) + "|"]
    for name, sub in table.groupby(level="series", sort=False):
        sub = sub.droplevel("series").loc[list(REGIME_NAMES)]
        share, run = sub["share"].to_numpy(float), sub["mean_run"].to_numpy(float)
        cells = [f"{s:.0%} / {r:.0f}" for s, r in zip(share, run, strict=True)]
        seen = sub[sub["bars"] > 0]
        cells.append(f"{seen['bars'].sum() / (seen['bars'] / seen['mean_run']).sum():.0f}")
        fwd = [
            1e4 * float(v) / h
            for col, h in (("fwd_1", 1), ("fwd_20", 20))
            for v in sub[col].to_numpy(float)[[UPTREND, DOWNTREND]]
        ]
        lines.append(f"| {name} | " + " | ".join(cells + [f"{v:+.1f}" for v in fwd]) + " |")
    return "\n".join(lines).replace("nan%", "-").replace("+nan", "-").replace(" nan", " -")


def main(argv: Sequence[str] | None = None) -> None:
    """Print the docs/regimes.md table for the daily files of a folder."""
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0] if args else "/work/shared/data/daily")
    frames = {
        p.name.split("_")[0]: pd.read_csv(p, parse_dates=["timestamp"], index_col="timestamp")
        for p in sorted(folder.glob("*.csv.gz"))
    }
    table = regime_table(frames, RegimeConfig())
    print(_markdown(table))
    for h in (1, 20):
        spread = trend_spread(table, h)
        wins, n = int((spread > 0).sum()), int(spread.notna().sum())
        print(f"\nuptrend > downtrend (fwd_{h}): {wins} of {n} series with both regimes")


if __name__ == "__main__":
    main()
