"""Issue 11's quality targets, measured from a `regime-trader walkforward` results folder.

    python bench/quality.py runs/wf [--write] [--command "the walkforward command"]

Reads ``results.parquet`` / ``returns.parquet`` and reports, with the statistics of
`regime_trader.evaluation.stats` (no new statistics here):

* calibrated regime-aware vs original on the real test windows: mean Sharpe difference, and
  `paired_cell_test` over (series, window) cells with seeds averaged (exact sign flips of
  whole series, the t-test over cells, a hierarchical bootstrap CI resampling series then
  windows; never seeds counted as runs), and the deflated Sharpe of the calibrated agent with
  every candidate rule counted (``trials.json``);
* per series: does the agent's mean Sharpe reach buy-and-hold's, with max drawdown
  <= 0.6x buy-and-hold's;
* synthetic scenarios (the same trained agents, true labels): mean uptrend capture and
  downtrend avoidance;
* the share of runs that collapse to always-long (exposure > 99%) or never-trade (no trade).

``--write`` puts the tables into the "Results" section of docs/verification.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402
from regime_trader.evaluation.results import read_results  # noqa: E402
from regime_trader.evaluation.stats import paired_columns  # noqa: E402
from regime_trader.evaluation.stats_paired import paired_cell_test  # noqa: E402
from regime_trader.evaluation.stats_sharpe import deflated_sharpe_ratio  # noqa: E402
from regime_trader.policy.calibration import read_trials  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "verification.md"
MARK = "<!-- quality-targets -->"
AGENTS = ("original", "regime_aware", "calibrated")


def _pooled(rets: pd.DataFrame, policy: str) -> np.ndarray:
    """One policy's real test returns chained in (series, window, seed) order."""
    sub = rets[rets["policy"] == policy].sort_values(["series", "window", "seed", "step"])
    return sub["ret"].to_numpy()


def _ci(ci: tuple) -> str:
    lo, hi = ci
    return "n/a" if lo is None or hi is None else f"[{lo:+.2f}, {hi:+.2f}]"


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"


def versus(rows: pd.DataFrame, rets: pd.DataFrame, a: str, b: str) -> dict:
    """``a`` minus ``b`` on the real test windows."""
    real = rows[(rows["kind"] == "real") & (rows["regime"] == "all")]
    pairs = paired_columns(real, "sharpe", a, b)
    unit = "series" if real["series"].nunique() >= 2 else "cell"
    test = paired_cell_test(real, "sharpe", a, b, unit=unit, rng=0)
    return {
        "runs": len(pairs),
        "cells": test.n_cells,
        "diff": float((pairs["a"] - pairs["b"]).mean()),
        "p_perm": test.p_value,
        "p_t": test.p_ttest,
        "ci": (test.ci_low, test.ci_high),
        "p_boot": test.p_boot,
        "wins": test.wins / max(test.n_cells, 1),
    }


def per_series(rows: pd.DataFrame, agent: str) -> pd.DataFrame:
    real = rows[(rows["kind"] == "real") & (rows["regime"] == "all")]
    m = real.groupby(["series", "policy"])[["sharpe", "max_drawdown"]].mean().unstack("policy")
    out = pd.DataFrame(
        {
            "agent Sharpe": m[("sharpe", agent)],
            "B&H Sharpe": m[("sharpe", "buy_and_hold")],
            "original Sharpe": m[("sharpe", "original")],
            "DD ratio": m[("max_drawdown", agent)] / m[("max_drawdown", "buy_and_hold")],
        }
    )
    out["target met"] = (out["agent Sharpe"] >= out["B&H Sharpe"]) & (out["DD ratio"] <= 0.6)
    out.index = [Path(str(s)).name.split("_")[0] for s in out.index]
    return out


def scenarios(rows: pd.DataFrame) -> pd.DataFrame:
    syn = rows[rows["kind"] == "synthetic"]
    cap = syn[syn["regime"] == "uptrend"].groupby(["series", "policy"])["capture"].mean()
    avo = syn[syn["regime"] == "downtrend"].groupby(["series", "policy"])["avoidance"].mean()
    table = pd.DataFrame({"uptrend capture": cap, "downtrend avoidance": avo})
    return table.loc[table.index.get_level_values("policy").isin(AGENTS)]


def collapse(rows: pd.DataFrame) -> pd.DataFrame:
    real = rows[(rows["kind"] == "real") & (rows["regime"] == "all")]
    real = real[real["policy"].isin(AGENTS)]
    g = real.groupby("policy")
    return pd.DataFrame(
        {
            "runs": g.size(),
            "always long": g["exposure"].apply(lambda e: float((e > 0.99).mean())),
            "never trades": g["num_trades"].apply(lambda n: float((n == 0).mean())),
        }
    )


def _md(frame: pd.DataFrame) -> str:
    """A Markdown table (no tabulate dependency); floats to 2 decimals."""
    frame = frame.reset_index()
    cols = [str(c) for c in frame.columns]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def report(folder: Path, command: str) -> str:
    rows, rets = read_results(folder)
    n_trials, trial_sharpes = read_trials(folder)
    cal = versus(rows, rets, "calibrated", "original")
    raw = versus(rows, rets, "regime_aware", "original")
    series = per_series(rows, "calibrated")
    syn = scenarios(rows)
    col = collapse(rows)
    dsr = None
    if n_trials and trial_sharpes:
        pooled = _pooled(
            rets[rets["series"].isin(rows.loc[rows["kind"] == "real", "series"])], "calibrated"
        )
        dsr = deflated_sharpe_ratio(
            pooled, n_trials=n_trials, trial_sharpes=trial_sharpes, periods_per_year=252.0
        )
    lines = [MARK, "", f"Command: `{command}`", ""]
    lines += [
        "| comparison (real test windows) | runs | cells | mean Sharpe diff | cells won | series sign-flip p | t over cells p | hierarchical 95% CI | bootstrap p |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name, v in (("calibrated − original", cal), ("regime-aware (greedy) − original", raw)):
        lines.append(
            f"| {name} | {v['runs']} | {v['cells']} | {v['diff']:+.2f} | {v['wins']:.0%} | {v['p_perm']:.3f} | {v['p_t']:.3f} | {_ci(v['ci'])} | {_p(v['p_boot'])} |"
        )
    lines += [
        "",
        _md(series),
        "",
        f"Series where the calibrated agent's Sharpe >= buy-and-hold's with max drawdown <= 0.6x: "
        f"**{int(series['target met'].sum())} of {len(series)}**.",
        "",
        _md(syn),
        "",
        _md(col),
        "",
    ]
    if dsr is not None:
        lines.append(
            f"Deflated Sharpe of the calibrated agent's pooled test returns, {n_trials} candidate rules counted: {dsr:.3f}."
        )
    lines += ["", MARK]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--command", default="regime-trader walkforward ...")
    ap.add_argument("--write", action="store_true", help="Write into docs/verification.md.")
    args = ap.parse_args()
    text = report(args.folder, args.command)
    print(text)
    if args.write:
        replace_section(MARK, text, DOC)


if __name__ == "__main__":
    main()
