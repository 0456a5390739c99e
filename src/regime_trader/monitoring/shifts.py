"""Injected shifts and replays: how many false alarms, and how late a real change is seen.

`inject_shift` changes a series from one bar on — volatility times ``factor``, a trend
reversal (the price path mirrored), or a regime-mix change (the rest of the series replaced
by the moves of another one, e.g. a range-bound market, at the same volatility). `replay`
feeds a series bar by bar to a `ModelMonitor` calibrated on its train and validation parts,
as `regime-trader paper` would with an always-long policy (next-open fills, returns settled
two bars later), and returns every alert with its bar. ``python -m
regime_trader.monitoring.shifts`` prints the table of docs/monitoring.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regime_trader.monitoring.alerts import Alert, AlertSink
from regime_trader.monitoring.expectations import Expectations, MonitorConfig
from regime_trader.monitoring.monitor import ModelMonitor
from regime_trader.monitoring.store import MonitorStore

PRICES = ["open", "high", "low", "close"]
SHIFTS = ("volatility", "reversal", "regime_mix")
RECENT = 250  # bars before the shift whose volatility a regime-mix splice keeps


def _log_moves(ohlcv: pd.DataFrame, start: int) -> tuple[float, np.ndarray]:
    anchor = float(ohlcv["close"].iloc[start - 1])
    return anchor, np.log(ohlcv[PRICES].to_numpy(np.float64)[start:] / anchor)


def _with_prices(ohlcv: pd.DataFrame, start: int, anchor: float, x: np.ndarray) -> pd.DataFrame:
    out = ohlcv.copy()
    out.loc[out.index[start:], PRICES] = anchor * np.exp(x)
    return out


def per_bar_vol(ohlcv: pd.DataFrame) -> float:
    """Std of the close-to-close log returns."""
    return float(np.diff(np.log(ohlcv["close"].to_numpy(np.float64))).std())


def inject_shift(
    ohlcv: pd.DataFrame,
    start: int,
    kind: str,
    *,
    factor: float = 3.0,
    other: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``ohlcv`` changed from bar ``start`` on (every bar before it untouched).

    Args:
        ohlcv: bars, oldest first.
        start: first changed bar (>= 1).
        kind: ``volatility`` (every log move from the close before ``start`` times
            ``factor``: returns, gaps and ranges), ``reversal`` (log moves negated: an
            uptrend becomes a downtrend, highs and lows swap), or ``regime_mix`` (the bars
            from ``start`` are ``other``'s moves from its first bar, scaled to the volatility
            of ``ohlcv`` before ``start``).
        factor: the volatility multiplier.
        other: the series whose moves replace the rest (``regime_mix``).

    Raises:
        ValueError: unknown kind, ``start`` out of range, or ``regime_mix`` without ``other``.
    """
    if not 1 <= start < len(ohlcv):
        raise ValueError(f"start must be in [1, {len(ohlcv) - 1}], got {start}")
    anchor, x = _log_moves(ohlcv, start)
    if kind == "volatility":
        return _with_prices(ohlcv, start, anchor, factor * x)
    if kind == "reversal":
        return _with_prices(ohlcv, start, anchor, -x[:, [0, 2, 1, 3]])
    if kind == "regime_mix":
        if other is None or len(other) < len(x) + 1:
            raise ValueError(f"regime_mix needs `other` with >= {len(x) + 1} bars")
        recent = ohlcv.iloc[max(0, start - RECENT) : start]
        scale = per_bar_vol(recent) / max(per_bar_vol(other), 1e-12)
        _, y = _log_moves(other, 1)
        return _with_prices(ohlcv, start, anchor, scale * y[: len(x)])
    raise ValueError(f"unknown shift '{kind}'; expected one of {SHIFTS}")


@dataclass(frozen=True)
class Replayable:
    """Features, regime labels and always-long step returns of one series, row-aligned."""

    features: np.ndarray  # [T, F] float32
    names: list[str]
    labels: np.ndarray  # [T]
    returns: np.ndarray  # [T]: open[t+2] / open[t+1] - 1, NaN for the last two rows
    index: pd.DatetimeIndex
    lookback: int  # bars of the input dropped before row 0 (feature warm-up)


def replayable(ohlcv: pd.DataFrame) -> Replayable:
    """What the service would compute bar by bar: features, rule labels, fills' returns."""
    from regime_trader.features import build_features
    from regime_trader.regimes import classify_regimes

    fs = build_features(ohlcv)
    labels = classify_regimes(ohlcv)[fs.lookback :].astype(np.int64)
    opens = ohlcv["open"].to_numpy(np.float64)[fs.lookback :]
    ret = np.full(len(opens), np.nan)
    ret[:-2] = opens[2:] / opens[1:-1] - 1.0
    return Replayable(fs.values, list(fs.names), labels, ret, fs.index, fs.lookback)


def calibrate(data: Replayable, train: slice, val: slice, cfg: MonitorConfig) -> Expectations:
    """Expectations from the train rows and the validation rows of ``data`` (always long)."""
    val_ret = data.returns[val][:-2]  # the last two validation decisions settle after it
    return Expectations.from_validation(
        val_ret,
        np.ones_like(val_ret),
        cfg,
        features=data.features[train],
        names=data.names,
        regimes=data.labels[train],
        val_features=data.features[val],
        val_regimes=data.labels[val],
    )


@dataclass
class Replay:
    """Alerts of one replay, with the row at which each was raised."""

    monitor: ModelMonitor
    alerts: list[tuple[int, Alert]] = field(default_factory=list)

    def first(self, row: int) -> tuple[int, str] | None:
        """``(rows after `row`, kind)`` of the first alert at or after ``row``; None if none."""
        later = [(r - row, a.kind) for r, a in self.alerts if r >= row]
        return later[0] if later else None

    def count(self, before: int | None = None) -> int:
        """Alerts sent (before row ``before``)."""
        return sum(1 for r, _ in self.alerts if before is None or r < before)


def replay(
    data: Replayable, expected: Expectations, cfg: MonitorConfig, start: int, stop: int
) -> Replay:
    """Feed rows ``start..stop-1`` of ``data`` to a fresh monitor (in-memory SQLite)."""
    mon = ModelMonitor(MonitorStore(":memory:"), expected, AlertSink(), cfg)
    out = Replay(mon)
    for t in range(start, stop):
        sent = mon.record(
            data.index[t].isoformat(),
            action=2,
            position=1.0,
            regime=int(data.labels[t]),
            features=data.features[t],
        )
        out.alerts += [(t, a) for a in sent]
        if t - 2 >= start and np.isfinite(data.returns[t - 2]):
            mon.add_return(mon.step - 2, float(data.returns[t - 2]), 1.0)
    return out


def market_transition(shares: tuple[float, ...], mean_duration: float) -> np.ndarray:
    """A 4x4 regime chain whose long-run mix is ``shares`` (uptrend, downtrend, plateau,
    oscillating): regime i lasts ``0.75 * mean_duration / (1 - shares[i])`` bars on average
    and is followed by j with probability ``shares[j] / (1 - shares[i])``."""
    w = np.asarray(shares, dtype=np.float64)
    p = np.zeros((4, 4))
    for i in range(4):
        stay = 0.75 * mean_duration / max(1.0 - w[i], 1e-9)
        nxt = w.copy()
        nxt[i] = 0.0
        p[i] = nxt / nxt.sum() / stay
        p[i, i] = 1.0 - 1.0 / stay
    return p


def synthetic_market(
    n_bars: int, shares: tuple[float, ...], seed: int, mean_duration: float = 30.0
) -> pd.DataFrame:
    """A `switching` scenario with the long-run regime mix ``shares`` (`market_transition`),
    starting in a regime of positive share."""
    import dataclasses

    from regime_trader import scenarios

    p = dataclasses.replace(
        scenarios.default_params("switching"),
        transition=tuple(map(tuple, market_transition(shares, mean_duration))),
    )
    extra = int(4 * mean_duration)
    bars = scenarios.generate(
        "switching", n_bars + extra, rng=np.random.default_rng(seed), params=p
    )
    first = int(np.argmax(np.asarray(shares)[bars["true_regime"].to_numpy()] > 0))
    return bars.iloc[first : first + n_bars]


BULL = (0.6, 0.1, 0.15, 0.15)
"""Training market of the synthetic study: mostly uptrends, some corrections and ranges."""
SIDEWAYS = (0.0, 0.0, 0.5, 0.5)
"""The regime mix a ``regime_mix`` shift moves to: a range-bound market."""


@dataclass(frozen=True)
class Study:
    """Row layout of one study: calibration parts, the unchanged replay, the shifted replay
    (rows ``start..stop-1``) and the shift's first row ``at``."""

    train: slice
    val: slice
    unchanged: slice
    start: int
    stop: int
    at: int


def study(
    ohlcv: pd.DataFrame,
    other: pd.DataFrame,
    layout: Study,
    cfg: MonitorConfig = MonitorConfig(),
) -> dict[str, int | None]:
    """Alerts of the unchanged replays and the delay of the first alert after each shift.

    Returns:
        ``validation_alerts`` (replaying the validation rows), ``unchanged_alerts`` (replaying
        ``layout.unchanged``), and per shift kind the rows from the shift to the first alert
        at or after it that the same replay without the shift does not raise (None: not
        detected before ``layout.stop``).
    """
    data = replayable(ohlcv)
    expected = calibrate(data, layout.train, layout.val, cfg)
    val = replay(data, expected, cfg, layout.val.start, layout.val.stop)
    unchanged = replay(data, expected, cfg, layout.unchanged.start, layout.unchanged.stop)
    base = replay(data, expected, cfg, layout.start, layout.stop)
    seen = {(row, a.kind, a.subject) for row, a in base.alerts}
    out: dict[str, int | None] = {
        "validation_alerts": val.count(),
        "unchanged_alerts": unchanged.count(),
    }
    for kind in SHIFTS:
        shifted = replayable(inject_shift(ohlcv, layout.at + data.lookback, kind, other=other))
        alerts = replay(shifted, expected, cfg, layout.start, layout.stop).alerts
        new = [
            row for row, a in alerts if row >= layout.at and (row, a.kind, a.subject) not in seen
        ]
        out[kind] = new[0] - layout.at if new else None
    return out


def synthetic_study(seed: int, cfg: MonitorConfig = MonitorConfig()) -> dict[str, int | None]:
    """`study` of a 6,500-bar `BULL` market: train 4,000 rows, validation 1,500, replay the
    last 1,000, shifts 250 rows into the replay (moves of a `SIDEWAYS` market for regime_mix)."""
    bars = synthetic_market(6600, BULL, seed)
    other = synthetic_market(2000, SIDEWAYS, seed + 1000)
    layout = Study(slice(0, 4000), slice(4000, 5500), slice(5500, 6500), 5500, 6500, 5750)
    return study(bars, other, layout, cfg)


def spx_study(cfg: MonitorConfig = MonitorConfig(), offset: int = 252) -> dict[str, int | None]:
    """`study` of the bundled spx: train to 2012, validation 2013-2015 (its own split), the
    unchanged replay is the test years 2016-2018, and the shifts are injected ``offset``
    rows into the validation years (replayed to their end)."""
    from regime_trader.data import load_ohlcv

    bars = load_ohlcv("spx")
    index = replayable(bars).index
    year = np.asarray(index.year)
    n_train, n_val = int((year <= 2012).sum()), int(((year > 2012) & (year <= 2015)).sum())
    train, val = slice(0, n_train), slice(n_train, n_train + n_val)
    other = synthetic_market(2000, SIDEWAYS, 1000)
    layout = Study(train, val, slice(val.stop, len(index)), val.start, val.stop, val.start + offset)
    return study(bars, other, layout, cfg)


def _row(label: str, res: dict[str, int | None]) -> str:
    cells = [str(res["validation_alerts"]), str(res["unchanged_alerts"])]
    cells += ["-" if res[k] is None else str(res[k]) for k in SHIFTS]
    return f"| {label} | " + " | ".join(cells) + " |"


def _summary(label: str, rows: list[dict[str, int | None]]) -> str:
    """``| label | 0 | 27 in 20 | median 43 (max 106, 0 missed) | ...``."""
    cells = [str(sum(r["validation_alerts"] or 0 for r in rows))]
    cells.append(f"{sum(r['unchanged_alerts'] or 0 for r in rows)} in {len(rows)} replays")
    for kind in SHIFTS:
        got = [d for d in (r[kind] for r in rows) if d is not None]
        missed = len(rows) - len(got)
        med = f"median {np.median(got):.0f} (max {max(got)})" if got else "-"
        cells.append(f"{med}, {missed} missed")
    return f"| {label} | " + " | ".join(cells) + " |"


def main(seeds: int = 20) -> None:
    """Print the measurement tables of docs/monitoring.md (about 25 s on one core)."""
    head = "| series | validation replay alerts | unchanged replay alerts | "
    print(head + " | ".join(f"{k} delay (rows)" for k in SHIFTS) + " |")
    print("|---" * (3 + len(SHIFTS)) + "|")
    summaries = []
    for margin in (0.5, 1.0):
        cfg = MonitorConfig(margin=margin)
        for offset in (252, 500):
            print(_row(f"spx, margin {margin}, shift +{offset}", spx_study(cfg, offset)))
        rows = [synthetic_study(seed, cfg) for seed in range(seeds)]
        for seed, res in enumerate(rows):
            print(_row(f"synthetic seed {seed}, margin {margin}", res))
        summaries.append(_summary(f"synthetic, {seeds} seeds, margin {margin}", rows))
    print()
    print(head + " | ".join(f"{k} delay (rows)" for k in SHIFTS) + " |")
    print("|---" * (3 + len(SHIFTS)) + "|")
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
