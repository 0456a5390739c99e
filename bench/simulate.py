"""Position accounting over 1M bars: our `simulate_positions` vs vectorbt, side by side.

Every backtest, baseline and walk-forward window goes through
`regime_trader.envs.spec.simulate_positions(positions, growth, cost_bps)`. This bench runs it
and vectorbt's `Portfolio.from_signals` / `Portfolio.from_orders` (target percent) on the
same long/flat positions over a synthetic random walk, single-threaded, and checks that all
three end at the same equity.

Set-up (the same for all three):

- ``fill[t]`` = the open of bar t+1 (our default ``next_open``): the decision at t fills
  there and is held until ``fill[t+1]``; vectorbt gets ``fill`` as both its order price and
  its valuation price, so its bar t is our step t;
- prices: a random walk of 0.1% per bar; positions: a random entry/exit signal (switch with
  probability ``--switch`` = 0.005 per bar, ~2,500 round trips), long 1 or flat 0;
- costs: ``--bps`` (10) on the traded notional; starting equity 1 (vectorbt: 1e6 cash,
  its values divided by 1e6, see ``CASH``).

Conventions that differ, and the check that accounts for them: we pay the fee out of equity
and then hold ``position x (equity after fee)``, so a buy multiplies equity by ``1 - f``;
vectorbt spends all cash on shares plus fee, holding ``equity / (1 + f)``. A sell costs
``1 - f`` in both. So ``log(vbt) - log(ours) = n_buys x log(1 / ((1 + f)(1 - f)))`` exactly
(``~ n_buys x f**2``); the bench asserts that identity to 1e-9 in log equity.

Times: best of ``--repeat`` runs of "positions -> equity curve" (ours: `simulate_positions`
then `cumprod`; vectorbt: build the portfolio then `value()`), vectorbt's numba functions
JIT-compiled by an untimed warm-up run first; NUMBA / BLAS threads pinned to 1.

    python bench/simulate.py [--bars 1000000] [--repeat 7] [--write]
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from regime_trader.envs.spec import fill_prices, growth_factors, simulate_positions  # noqa: E402

MARK = "<!-- bench/simulate.py -->"
VOL = 0.001  # per-bar volatility (minute-like bars: the price stays within e^+-5 of 100)
CASH = 1e6  # vectorbt's starting cash, its values divided by it: vectorbt skips orders
# whose share count falls below its float tolerance, which a 1.0 start reaches after the
# costs of thousands of round trips (equity ~1e-5)


def market(bars: int, switch: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fill prices (``bars + 1``, the last closes the final step) and long/flat positions."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, VOL, bars + 2)))
    open_ = close * np.exp(rng.normal(0.0, VOL / 5, bars + 2))
    fill = fill_prices(open_, close)[: bars + 1]
    flips = rng.random(bars) < switch
    positions = (np.cumsum(flips) % 2).astype(np.float64)
    return fill, positions


def ours(fill: np.ndarray, positions: np.ndarray, bps: float) -> np.ndarray:
    growth = growth_factors(fill)[:-1]
    returns, _ = simulate_positions(positions, growth, bps)
    return np.cumprod(1.0 + returns)


def vbt_orders(fill: np.ndarray, positions: np.ndarray, bps: float) -> np.ndarray:
    import vectorbt as vbt

    change = np.diff(positions, prepend=0.0) != 0.0
    size = np.append(np.where(change, positions, np.nan), np.nan)
    pf = vbt.Portfolio.from_orders(
        fill, size, size_type="targetpercent", price=fill, fees=bps * 1e-4, init_cash=CASH,
        freq="1D",
    )  # fmt: skip
    return pf.value().to_numpy()[1:] / CASH


def vbt_signals(fill: np.ndarray, positions: np.ndarray, bps: float) -> np.ndarray:
    import vectorbt as vbt

    d = np.diff(positions, prepend=0.0)
    entries, exits = np.append(d > 0, False), np.append(d < 0, False)
    pf = vbt.Portfolio.from_signals(
        fill, entries, exits, price=fill, fees=bps * 1e-4, init_cash=CASH, freq="1D"
    )
    return pf.value().to_numpy()[1:] / CASH


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--switch", type=float, default=0.005, help="signal flip probability per bar")
    ap.add_argument("--bps", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    import vectorbt as vbt

    fill, pos = market(args.bars, args.switch)
    f = args.bps * 1e-4
    n_buys = int(np.count_nonzero(np.diff(pos, prepend=0.0) > 0))
    expected = n_buys * np.log(1.0 / ((1.0 + f) * (1.0 - f)))
    engines = {
        "ours: `simulate_positions` + `cumprod`": ours,
        "vectorbt `Portfolio.from_signals` + `value()`": vbt_signals,
        "vectorbt `Portfolio.from_orders` (target percent) + `value()`": vbt_orders,
    }
    warm = time.perf_counter()
    equity = {name: fn(fill, pos, args.bps) for name, fn in engines.items()}  # JIT warm-up
    warm = time.perf_counter() - warm
    ref = equity[next(iter(engines))]
    rows = []
    for name, fn in engines.items():
        gap = float(np.log(equity[name][-1]) - np.log(ref[-1]))
        want = 0.0 if name.startswith("ours") else expected
        assert abs(gap - want) < 1e-9, f"{name}: log-equity gap {gap:.3e}, expected {want:.3e}"
        secs = best_of(lambda fn=fn: fn(fill, pos, args.bps), args.repeat)
        rows.append((name, secs, float(equity[name][-1]), gap))
    base = rows[0][1]
    table = "\n".join(
        [
            "| engine | seconds (best of "
            f"{args.repeat}) | x ours | final equity | log gap to ours |",
            "|---|---:|---:|---:|---:|",
        ]
        + [f"| {n} | {s:.4f} | {s / base:.1f} | {e:.6f} | {g:.3e} |" for n, s, e, g in rows]
    )
    print(table)
    print(f"buys {n_buys}; expected vectorbt log gap {expected:.6e}; warm-up run {warm:.1f} s")
    if args.write:
        cmd = f"python bench/simulate.py --bars {args.bars} --repeat {args.repeat} --write"
        section = (
            f"{MARK}\n## Position accounting: `simulate_positions` vs vectorbt\n\n"
            f"{args.bars:,} bars of a random walk, long/flat positions from a random signal "
            f"({n_buys:,} entries), {args.bps:g} bps on traded notional, fills at the next "
            "open (vectorbt's order and valuation price = our fill price; its cash starts at "
            "1e6 and its values are divided by 1e6). Positions in, "
            "equity curve out; best of "
            f"{args.repeat} runs after an untimed run that JIT-compiles vectorbt's numba code; "
            f"single thread (NUMBA/BLAS threads = 1); CPU {platform.processor() or platform.machine()}; "
            f"vectorbt {vbt.__version__}, NumPy {np.__version__}.\n\n"
            "Final equities agree once the one convention that differs is accounted for: we "
            "pay a buy's fee out of equity and then invest the rest (equity x (1 - f)), "
            "vectorbt spends all cash on shares plus fee (equity / (1 + f)); so vectorbt's "
            "log equity exceeds ours by exactly n_buys x log(1 / ((1 + f)(1 - f))) "
            f"(= {expected:.3e} here), which the bench asserts to 1e-9.\n\n"
            f"Command: `{cmd}` (vectorbt: `make bench-install`)\n\n{table}\n{MARK}\n"
        )
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
