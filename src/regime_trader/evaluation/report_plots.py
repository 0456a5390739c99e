"""Figures of the HTML reports (per-run ``report.html`` and the verification report).

Drawn on :class:`matplotlib.figure.Figure` objects (Agg rendering, no pyplot global state)
and embedded as base64 ``data:`` URIs, so each HTML file has no external assets. Every
figure is wide (12 in at 100 dpi) and shown at the full width of the page's container.
Legends sit below the axes (never over the data), policies are shown by their readable
names (:data:`POLICY_LABELS`) and price axes turn logarithmic when prices span more than
a factor of :data:`LOG_SPAN`.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from collections.abc import Mapping
from pathlib import PurePath

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from regime_trader.policy.metrics import drawdown
from regime_trader.regimes import REGIME_NAMES

__all__ = [
    "LOG_SPAN",
    "POLICY_LABELS",
    "REGIME_COLORS",
    "date_axis",
    "legend_below",
    "policy_label",
    "short_series",
    "drawdown_figure",
    "equity_figure",
    "figure_html",
    "line_style",
    "regime_figure",
    "set_equity_ticks",
]

WIDTH = 12.0  # inches; shown at the container's width (CSS ``width: 100%``)
LOG_SPAN = 10.0
"""Prices whose max / min exceeds this are drawn on a log axis."""

POLICY_LABELS: dict[str, str] = {
    "strategy": "agent",
    "buy_and_hold": "buy-and-hold",
    "sma_crossover": "SMA 50/200 crossover",
    "random": "random (switches on 5% of bars)",
    "oracle": "oracle (hindsight upper bound)",
    "sma_200": "200-day moving average",
    "vol_target": "volatility target (10%)",
    "sma_200_vol_target": "200-day MA, volatility-targeted",
    "tsmom_12m": "12-month momentum",
    "markov_switching": "Markov switching in/out",
}
"""Readable names of the built-in policies; any other name (an agent) is shown as given."""


def policy_label(name: str) -> str:
    """The readable name of a policy (``"buy_and_hold"`` -> ``"buy-and-hold"``)."""
    return POLICY_LABELS.get(str(name), str(name))


REGIME_COLORS: dict[int, str] = {
    0: "tab:green",
    1: "tab:red",
    2: "tab:gray",
    3: "tab:orange",
    -1: "#d9d9d9",
}

# Fixed styles so the same policy looks the same in every figure, and no line hides another:
# buy-and-hold is a wide pale band under everything, the rule baselines are dashed or dotted.
_STYLES: dict[str, dict[str, object]] = {
    "strategy": {"color": "tab:blue", "linewidth": 1.8, "zorder": 4},
    "enhanced": {"color": "tab:blue", "linewidth": 1.8, "zorder": 4},
    "regime_aware": {"color": "tab:blue", "linewidth": 1.8, "zorder": 4},
    "calibrated": {"color": "tab:purple", "linewidth": 1.8, "zorder": 5},
    "ensemble": {"color": "tab:cyan", "linewidth": 1.5, "zorder": 4},
    "original": {"color": "tab:red", "linewidth": 1.5, "zorder": 3},
    "buy_and_hold": {"color": "black", "linewidth": 3.0, "alpha": 0.3, "zorder": 1},
    "sma_crossover": {"color": "tab:orange", "linewidth": 1.3, "linestyle": "--", "zorder": 2},
    "random": {"color": "tab:brown", "linewidth": 1.0, "linestyle": ":", "zorder": 2},
    "oracle": {"color": "tab:green", "linewidth": 1.0, "linestyle": "-.", "zorder": 2},
    "sma_200": {"color": "navy", "linewidth": 1.3, "linestyle": "--", "zorder": 2},
    "vol_target": {"color": "teal", "linewidth": 1.3, "linestyle": "-.", "zorder": 2},
    "sma_200_vol_target": {"color": "goldenrod", "linewidth": 1.3, "linestyle": "--", "zorder": 2},
    "tsmom_12m": {"color": "tab:pink", "linewidth": 1.3, "linestyle": ":", "zorder": 2},
    "markov_switching": {"color": "tab:olive", "linewidth": 1.3, "linestyle": "-.", "zorder": 2},
}
# other names are agents: strong solid lines in colours no baseline uses
_CYCLE = ("deeppink", "sienna", "slateblue", "darkcyan", "indigo", "darkgreen")


def line_style(name: str, i: int = 0) -> dict[str, object]:
    """Matplotlib line keywords for policy ``name`` (``i`` picks a colour for unknown ones,
    taken as agents: solid, wide, drawn on top)."""
    agent = {"color": _CYCLE[i % len(_CYCLE)], "linewidth": 1.8, "zorder": 4}
    return dict(_STYLES.get(name, agent))


def figure_html(fig: Figure, alt: str) -> str:
    """``<img>`` tag holding ``fig`` as an inline PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def x_values(index: pd.Index) -> np.ndarray:
    """Timestamps as naive ``datetime64`` (fast for matplotlib), keeping wall-clock in UTC;
    any other index (step numbers) as is."""
    if not isinstance(index, pd.DatetimeIndex):
        return np.asarray(index)
    idx = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
    return idx.to_numpy()


def date_axis(ax: Axes, index: pd.Index) -> None:
    """Concise date ticks (``2013-02``, ``05``, ``10`` ...) that never run into each other,
    for a time index; any other index is left alone."""
    if isinstance(index, pd.DatetimeIndex):
        locator = AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def short_series(name: str, width: int = 18) -> str:
    """A series name for a tick label: a file path by its file name, wrapped to ``width``."""
    text = PurePath(name).name if "/" in name or "\\" in name else name
    return textwrap.fill(text, width=width, break_long_words=True)


def _plain(value: float, _pos: object = None) -> str:
    """``0.9``, ``1.25``, ``20`` -- never ``1.5x10^0``."""
    return f"{value:.4g}"


def set_equity_ticks(ax: Axes, low: float, high: float) -> None:
    """Plain-number ticks on a log equity axis spanning ``low..high`` (growth of 1).

    Up to a 10x range the ticks are round linear steps (0.9, 1.0, 1.1, ...) placed on the log
    axis; beyond it, 1-2-5 per decade (0.5, 1, 2, 5, 10, ...).
    """
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0 or high <= low:
        return
    if high / low <= 10.0:
        ticks = MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
        ticks = [float(t) for t in ticks if t > 0]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        # the fewest decimals that write every tick exactly: 0.9, 1.0, 1.1 or 1.25, 1.50
        digits = next((d for d in range(4) if all(abs(round(t, d) - t) < 1e-9 for t in ticks)), 4)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.{digits}f}"))
    else:
        ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    ax.yaxis.set_minor_formatter(NullFormatter())
    pad = (high / low) ** 0.04
    ax.set_ylim(low / pad, high * pad)


def legend_below(fig: Figure, handles: list[Artist] | None = None, ncol: int = 4) -> None:
    """One legend for the figure, centred below its axes (outside the data)."""
    axes = fig.get_axes()
    if handles is None:
        handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]]
        seen: dict[str, Artist] = {}
        for h in handles:
            seen.setdefault(str(h.get_label()), h)
        handles = list(seen.values())
    if handles:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=max(1, min(ncol, len(handles))),
            fontsize="small",
            frameon=False,
        )


def _figure(height: float) -> Figure:
    return Figure(figsize=(WIDTH, height), layout="constrained")


def equity_figure(equity: pd.DataFrame, title: str = "Equity (growth of 1, log scale)") -> Figure:
    """Equity curves of every column, log axis with plain tick labels, legend below."""
    fig = _figure(4.6)
    ax = fig.add_subplot()
    low, high = np.inf, -np.inf
    for i, col in enumerate(equity.columns):
        s = equity[col].dropna()
        s = s[s > 0]  # log axis: ruined (zero) equity cannot be drawn
        if s.empty:
            continue
        y = s.to_numpy(dtype=np.float64)
        low, high = min(low, float(y.min()), 1.0), max(high, float(y.max()), 1.0)
        style = line_style(str(col), i)
        ax.plot(x_values(s.index), y, label=policy_label(str(col)), **style)  # type: ignore[arg-type]
    ax.set_yscale("log")
    set_equity_ticks(ax, low, high)
    ax.axhline(1.0, color="black", linewidth=0.6, alpha=0.5)
    ax.set_title(title)
    ax.set_ylabel("equity (start = 1)")
    ax.grid(True, which="major", alpha=0.3)
    date_axis(ax, equity.index)
    legend_below(fig, ncol=5)
    return fig


def drawdown_figure(equity: pd.DataFrame, title: str = "Drawdown from the running peak") -> Figure:
    """Drawdown (%) of every column; buy-and-hold is a shaded area, others lines on top."""
    fig = _figure(3.8)
    ax = fig.add_subplot()
    for i, col in enumerate(equity.columns):
        s = equity[col].dropna()
        dd = -100.0 * drawdown(s.to_numpy(dtype=np.float64))
        x = x_values(s.index)
        style = line_style(str(col), i)
        if col == "buy_and_hold":
            ax.fill_between(x, dd, 0.0, color="black", alpha=0.12, zorder=0, linewidth=0)
            style = {**style, "linewidth": 1.0, "alpha": 0.6}
        ax.plot(x, dd, label=policy_label(str(col)), **style)  # type: ignore[arg-type]
    ax.set_title(title)
    ax.set_ylabel("drawdown (%)")
    ax.grid(True, alpha=0.3)
    date_axis(ax, equity.index)
    legend_below(fig, ncol=5)
    return fig


def _marker_prices(times: pd.Series, prices: pd.Series | None, close: pd.Series) -> np.ndarray:
    """Trade prices, falling back to the close at that time where missing (NaN)."""
    at_close = close.reindex(pd.DatetimeIndex(times)).to_numpy(dtype=np.float64)
    if prices is None:
        return at_close
    p = pd.to_numeric(prices, errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isnan(p), at_close, p)


def _trade_markers(ax: Axes, close: pd.Series, trades: pd.DataFrame) -> list[Artist]:
    """Entries (``^`` long, ``v`` short) and exits (``x``) at their fill times and prices."""
    side = trades["side"].astype(str).to_numpy()
    entry_t = pd.DatetimeIndex(trades["entry_time"])
    entry_p = _marker_prices(trades["entry_time"], trades.get("entry_price"), close)
    handles: list[Artist] = []
    for name, marker, color in (("long", "^", "tab:blue"), ("short", "v", "tab:purple")):
        m = side == name
        if m.any():
            handles.append(
                ax.scatter(
                    x_values(entry_t[m]), entry_p[m], marker=marker, color=color, s=30, zorder=3
                )
            )
            handles[-1].set_label(f"{name} entry")
    closed = trades[pd.notna(trades["exit_time"])]  # a trade open at the end has no exit
    if len(closed):
        exit_p = _marker_prices(closed["exit_time"], closed.get("exit_price"), close)
        exits = ax.scatter(
            x_values(pd.DatetimeIndex(closed["exit_time"])),
            exit_p,
            marker="x",
            color="black",
            s=25,
            zorder=3,
        )
        exits.set_label("exit")
        handles.append(exits)
    return handles


def regime_codes(regimes: pd.Series) -> np.ndarray:
    """Integer regime codes of a label series given as codes or as names (-1: unknown)."""
    if pd.api.types.is_numeric_dtype(regimes):
        return regimes.fillna(-1).to_numpy().astype(np.int64)
    codes = {name: i for i, name in enumerate(REGIME_NAMES)}
    return np.asarray([codes.get(str(v), -1) for v in regimes.to_numpy()], dtype=np.int64)


def log_prices(values: np.ndarray) -> bool:
    """Whether positive prices span more than :data:`LOG_SPAN` (max / min)."""
    y = values[np.isfinite(values) & (values > 0)]
    return bool(y.size) and float(y.max()) / float(y.min()) > LOG_SPAN


def regime_figure(
    close: pd.Series,
    regimes: pd.Series,
    trades: pd.DataFrame,
    title: str | None = None,
    log: bool | None = None,
) -> Figure:
    """Close coloured by regime, trade entries (``^`` long, ``v`` short) and exits (``x``).

    The default title says "with trades" only when there are trades; the price axis is
    logarithmic when ``log`` says so (None: when the closes span more than
    :data:`LOG_SPAN`); the legend sits below.
    """
    fig = _figure(4.8)
    ax = fig.add_subplot()
    x = x_values(close.index)
    y = close.to_numpy(dtype=np.float64)
    codes = regime_codes(regimes.reindex(close.index))
    handles: list[Artist] = []
    for code, color in REGIME_COLORS.items():
        # segment i -> i+1 takes the colour of bar i: keep bar i and its successor.
        own = codes == code
        keep = own | np.r_[False, own[:-1]]
        if not own.any():
            continue
        label = REGIME_NAMES[code] if code >= 0 else "unknown (warm-up)"
        (line,) = ax.plot(x, np.where(keep, y, np.nan), color=color, linewidth=1.0, label=label)
        handles.append(line)
    if len(trades):
        handles += _trade_markers(ax, close, trades)
    log = log_prices(y) if log is None else log
    if log:
        ax.set_yscale("log")
        good = y[np.isfinite(y) & (y > 0)]
        if good.size:  # plain round ticks, several even within one decade
            set_equity_ticks(ax, float(good.min()), float(good.max()))
    default = "Close price by regime" + (", with trades" if len(trades) else "")
    ax.set_title(title or default)
    ax.set_ylabel("close (log scale)" if log else "close")
    ax.grid(True, alpha=0.3)
    date_axis(ax, close.index)
    legend_below(fig, handles, ncol=8)
    return fig


def bar_figure(
    values: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    ylabel: str,
    reference: float | None = None,
    log_growth: bool = False,
) -> Figure:
    """Grouped bars: one group per outer key with a value, one bar per inner key (a policy,
    shown by its readable name); empty groups are left out. With ``log_growth`` the values
    are growth factors (final equity of 1 invested), drawn up or down from 1 on a log axis
    with plain ticks."""
    groups = [g for g in values if any(np.isfinite(v) for v in values[g].values())]
    names = list(dict.fromkeys(k for g in groups for k in values[g]))
    fig = _figure(4.2)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(names))
    for j, name in enumerate(names):
        ys = [values[g].get(name, np.nan) for g in groups]
        xs = np.arange(len(groups)) + (j - (len(names) - 1) / 2) * width
        color = str(line_style(name, j)["color"])
        color = "0.45" if color == "black" else color  # buy-and-hold: grey, not a black block
        y = np.asarray(ys, dtype=np.float64)
        base = 1.0 if log_growth else 0.0
        ax.bar(xs, y - base, bottom=base, width=width, label=policy_label(name), color=color,
               alpha=0.85)  # fmt: skip
    if log_growth:
        finite = [v for g in groups for v in values[g].values() if np.isfinite(v) and v > 0]
        ax.set_yscale("log")
        set_equity_ticks(ax, min([1.0, *finite]), max([1.0, *finite]))
    if reference is not None:
        ax.axhline(reference, color="black", linewidth=0.8, linestyle="--")
    ax.axhline(1.0 if log_growth else 0.0, color="black", linewidth=0.6)
    ax.set_xticks(np.arange(len(groups)), [short_series(str(g)) for g in groups])
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    legend_below(fig, ncol=5)
    return fig
