"""How well the rule-based detector recovers the true regimes of generated scenarios.

``regime-trader scenarios agreement [--seed 0] [--seeds 5] [--bars 1500]`` prints the Markdown
table kept in ``docs/scenarios.md``.
"""

from __future__ import annotations

import numpy as np

from regime_trader.regimes.rules import SHORT_HORIZON, classify_regimes
from regime_trader.scenarios.generators import SCENARIO_KINDS, generate


def agreement(kind: str, *, seed: int = 0, n_bars: int = 1500) -> tuple[float, int]:
    """Share of scored bars where the detector's label equals the true regime.

    A bar is scored when the detector gives a label (not -1): after its warm-up of
    ``regime_lookback`` bars and where its inputs are finite.

    Args:
        kind: One of :data:`SCENARIO_KINDS`, generated with its default parameters.
        seed: Seed of ``numpy.random.default_rng``.
        n_bars: Length of the generated series.

    Returns:
        ``(agreement, scored_bars)``.
    """
    frame = generate(kind, n_bars, rng=np.random.default_rng(seed))
    labels = classify_regimes(frame, SHORT_HORIZON)  # the 60-bar synthetic regimes
    known = labels >= 0
    truth = frame["true_regime"].to_numpy()
    scored = int(known.sum())
    share = float(np.mean(labels[known] == truth[known])) if scored else float("nan")
    return share, scored


def agreement_table(seed: int = 0, n_bars: int = 1500) -> dict[str, float]:
    """Detector agreement for every scenario kind (default parameters, `SHORT_HORIZON` labels: the scenarios switch every 60 bars).

    Args:
        seed: Seed of each kind's generator.
        n_bars: Length of each generated series.

    Returns:
        ``{kind: agreement}`` in the order of :data:`SCENARIO_KINDS`.
    """
    return {kind: agreement(kind, seed=seed, n_bars=n_bars)[0] for kind in SCENARIO_KINDS}


def agreement_markdown(seeds: tuple[int, ...] = (0, 1, 2, 3, 4), n_bars: int = 1500) -> str:
    """The agreement table as Markdown: one row per kind, one column per seed, and the mean.

    Args:
        seeds: Generator seeds, one column each.
        n_bars: Length of each generated series.

    Returns:
        Markdown text ending in a newline.
    """
    rows = {seed: agreement_table(seed, n_bars) for seed in seeds}
    head = "| kind | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |"
    lines = [head, "|---|" + "---:|" * (len(seeds) + 1)]
    for kind in SCENARIO_KINDS:
        values = [rows[s][kind] for s in seeds]
        cells = " | ".join(f"{v:.3f}" for v in values)
        lines.append(f"| {kind} | {cells} | {float(np.mean(values)):.3f} |")
    return "\n".join(lines) + "\n"
