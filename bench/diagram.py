"""Draw the EnhancedDQN block diagram into docs/img/enhanced_dqn.png (matplotlib only).

python bench/diagram.py [--out docs/img/enhanced_dqn.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "enhanced_dqn.png"
BOX_W, BOX_H = 3.6, 0.78
COLOURS = {"io": "#e8eef7", "layer": "#fdf1dc", "regime": "#e3f4e1", "head": "#f6e1e6"}


def box(ax: Axes, x: float, y: float, title: str, shape: str, kind: str, w: float = BOX_W) -> None:
    """A rounded box centred at ``(x, y)`` with a bold title and its output shape below."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - BOX_H / 2),
            w,
            BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=COLOURS[kind],
            edgecolor="#444444",
            linewidth=1.2,
        )
    )
    ax.text(x, y + 0.14, title, ha="center", va="center", fontsize=9.5, weight="bold")
    ax.text(x, y - 0.18, shape, ha="center", va="center", fontsize=8.5, family="monospace")


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str = "") -> None:
    """An arrow from ``start`` to ``end`` with an optional label at its middle."""
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": "#333333"})
    if label:
        mid = ((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2)
        ax.text(*mid, label, fontsize=8, ha="left", va="center", style="italic")


def draw(out: Path) -> None:
    """Render the diagram to ``out``."""
    fig, ax = plt.subplots(figsize=(8.5, 11))
    ax.set_xlim(0, 10)
    ax.set_ylim(1.5, 12.2)
    ax.axis("off")
    cx, top, step = 3.6, 11.5, 1.25
    ys = [top - i * step for i in range(8)]
    box(ax, cx, ys[0], "observation window", "window [B, W, F]", "io")
    box(
        ax,
        cx,
        ys[1],
        "feature extractor: Linear(F, D) + GELU per bar",
        "+ position [W, D] -> [B, W, D]",
        "layer",
        5.4,
    )
    box(
        ax,
        cx,
        ys[2],
        "TemporalAttentionLayer (H heads, SDPA)",
        "LN(x + attn(x)) -> [B, W, D]",
        "layer",
        5.4,
    )
    box(
        ax,
        cx,
        ys[3],
        "MarketRegimePathways (per bar)",
        "sum_k softmax(logits)_k path_k(x) -> [B, W, D]",
        "regime",
        5.4,
    )
    box(ax, cx, ys[4], "LSTM, 2 layers, batch_first", "out[:, -1] -> [B, L]", "layer")
    box(ax, cx, ys[5], "concat with agent state", "[B, L + S]", "layer")
    box(ax, 1.9, ys[6], "value stream", "V [B, 1]", "head", 2.6)
    box(ax, 5.3, ys[6], "advantage stream", "A [B, 3]", "head", 2.6)
    box(ax, cx, ys[7], "Q = V + A - mean_a(A)", "q_values [B, 3]  (output 1)", "io", 4.2)
    box(ax, 8.4, ys[3], "regime detector", "logits [B, W, 4]", "regime", 2.6)
    box(ax, 8.4, ys[4] - 0.3, "last bar's logits", "[B, 4]  (output 2)", "io", 2.6)
    box(ax, 8.4, ys[5], "agent state", "state [B, S]", "io", 2.6)
    for a, b in zip(ys[:5], ys[1:6], strict=True):
        arrow(ax, (cx, a - BOX_H / 2), (cx, b + BOX_H / 2))
    arrow(ax, (cx - 1.0, ys[5] - BOX_H / 2), (1.9, ys[6] + BOX_H / 2))
    arrow(ax, (cx + 1.0, ys[5] - BOX_H / 2), (5.3, ys[6] + BOX_H / 2))
    arrow(ax, (1.9, ys[6] - BOX_H / 2), (cx - 1.0, ys[7] + BOX_H / 2))
    arrow(ax, (5.3, ys[6] - BOX_H / 2), (cx + 1.0, ys[7] + BOX_H / 2))
    arrow(ax, (8.4, ys[3] - BOX_H / 2), (8.4, ys[4] - 0.3 + BOX_H / 2), "[:, -1]")
    arrow(ax, (7.1, ys[3]), (cx + 2.7, ys[3]))
    ax.text(6.75, ys[3] + 0.12, "weights", fontsize=8, ha="center", va="bottom", style="italic")
    ax.annotate(
        "",
        xy=(8.4, ys[3] + BOX_H / 2),
        xytext=(cx + 2.7, ys[2]),
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#333333",
            "connectionstyle": "angle,angleA=0,angleB=90",
        },
    )
    arrow(ax, (7.1, ys[5]), (cx + BOX_W / 2, ys[5]))
    ax.text(
        5.0,
        1.7,
        "B batch, W bars, F features, S agent state, D d_model (64), H heads (4), L lstm_hidden (64)\n"
        "Output 2 is LOGITS: softmax for probabilities; cross-entropy against rule labels "
        "(0 up, 1 down, 2 plateau, 3 oscillating)",
        ha="center",
        fontsize=8,
        color="#333333",
    )
    ax.set_title("EnhancedDQN: forward(window [B, W, F], state [B, S])", fontsize=12, weight="bold")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    draw(ap.parse_args().out)


if __name__ == "__main__":
    main()
