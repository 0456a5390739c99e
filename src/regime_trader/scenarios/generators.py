"""Synthetic OHLCV scenarios with known regimes: trends, plateau, oscillation, Markov switching.

Every segment of ``n`` bars follows one log-price model (``t = 0 .. n-1``, ``x0`` the log of
the previous close):

    x[t] = x0 + drift * (t + 1)
              + cumsum(volatility * e[t] * z[t])              random walk
              + amplitude * e[t] * sin(2 pi (t + 1) / period)   oscillation
              + noise * e[t] * eps[t]                          i.i.d. noise around the path

with ``z, eps`` standard normal and the envelope ``e[t] = exp(vol_trend * t)``, shifted so
that its largest value is 1: ``volatility``, ``amplitude`` and ``noise`` are reached at the
first bar when ``vol_trend < 0`` (contracting) and at the last bar when ``vol_trend > 0``
(expanding), so a long series never blows up. The kinds differ only in their default
parameters (:func:`default_params`).

Why plateau contracts and oscillation expands: the rule-based detector
(:mod:`regime_trader.regimes.rules`) calls a flat market a plateau when its 20-bar volatility
is below the median of its own last 250 bars, and oscillating when above. A stationary
single-regime series sits at ratio ~1 and would be split half and half, so the single-kind
plateau contracts (``vol_trend = -0.003``: about 0.69 of the median) and the oscillation expands
(``vol_trend = +0.0005``). Every bar of a single-kind series is labelled with its kind. In
``switching`` the segments are stationary (``vol_trend = 0``) and the volatility levels differ
instead: plateau about 0.6x, oscillation about 2.4x the trends' per-bar volatility.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regime_trader.regimes import REGIME_NAMES
from regime_trader.scenarios.bars import bars_from_closes, calendar, to_frame

SCENARIO_KINDS: tuple[str, ...] = (*REGIME_NAMES, "switching")
"""The single-regime kinds (`REGIME_NAMES`: the position is the regime label) and the
Markov-switching mix of them."""


@dataclass(frozen=True)
class ScenarioParams:
    """Parameters of a synthetic scenario (see the module docstring for the price model).

    Attributes:
        drift: Log drift per bar (0.003 = +0.3 % a bar).
        volatility: Std of the random-walk log increment per bar.
        noise: Std of the i.i.d. log deviation around the path (mean-reverting noise).
        amplitude: Amplitude of the sine oscillation in log price.
        period: Period of the oscillation in bars.
        vol_trend: Log growth of volatility, noise and amplitude per bar (see the envelope).
        start_price: Close before the first bar (the first open gaps from it); > 0.
        start: First timestamp (taken as UTC).
        freq: pandas offset between bars; a plain calendar without gaps.
        gap: Std of the open gap ``log(open[t] / close[t-1])`` as a fraction of the bar's
            volatility scale.
        wick: Scale of the high/low wicks beyond max/min(open, close), as a fraction of the
            bar's volatility scale.
        volume: Median volume per bar (lognormal).
        volume_sigma: Std of log volume.
        mean_duration: ``switching`` only: mean regime duration in bars; the default transition
            matrix stays with probability ``1 - 1 / mean_duration`` and otherwise moves to one
            of the three other regimes uniformly.
        transition: ``switching`` only: 4x4 row-stochastic matrix over the regimes 0..3; it
            overrides ``mean_duration``.
        regimes: ``switching`` only: path parameters (drift ... vol_trend) of each regime 0..3;
            ``None`` takes :func:`default_params` of each kind with ``vol_trend = 0``.
    """

    drift: float = 0.0
    volatility: float = 0.005
    noise: float = 0.0
    amplitude: float = 0.0
    period: float = 10.0
    vol_trend: float = 0.0
    start_price: float = 100.0
    start: str = "2000-01-03"
    freq: str = "1D"
    gap: float = 0.1
    wick: float = 0.5
    volume: float = 1e6
    volume_sigma: float = 0.3
    mean_duration: float = 60.0
    transition: tuple[tuple[float, ...], ...] | None = None
    regimes: tuple[ScenarioParams, ...] | None = None

    def __post_init__(self) -> None:
        """Reject values that would make invalid bars."""
        for name in ("volatility", "noise", "amplitude", "gap", "wick", "volume_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"ScenarioParams.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("period", "start_price", "volume"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ScenarioParams.{name} must be > 0, got {getattr(self, name)}")
        if self.mean_duration < 1:
            raise ValueError(f"ScenarioParams.mean_duration must be >= 1, got {self.mean_duration}")
        if self.transition is not None:
            p = np.asarray(self.transition, dtype=np.float64)
            if p.shape != (4, 4) or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0):
                raise ValueError("ScenarioParams.transition must be a 4x4 row-stochastic matrix")
        if self.regimes is not None and len(self.regimes) != 4:
            raise ValueError("ScenarioParams.regimes must hold one ScenarioParams per regime 0..3")


_DEFAULTS: dict[str, ScenarioParams] = {
    "uptrend": ScenarioParams(drift=0.003),
    "downtrend": ScenarioParams(drift=-0.003),
    "plateau": ScenarioParams(volatility=0.0, noise=0.0021, vol_trend=-0.003),
    "oscillating": ScenarioParams(
        volatility=0.0, noise=0.002, amplitude=0.0275, period=10.0, vol_trend=0.0005
    ),
}


def default_params(kind: str) -> ScenarioParams:
    """Default parameters of a scenario kind (those the rule-based detector recognises).

    Per-bar log-return volatility of the defaults: trends 0.005 with drift +-0.003 (trend
    score ~0.6, threshold 0.15); plateau ~0.003 (noise 0.0021 around a level), contracting
    with a half-life of ~230 bars; oscillation ~0.012 (10-bar sine of amplitude 2.75 %),
    expanding by ``e`` every 2000 bars. ``switching`` uses these per regime with
    ``vol_trend = 0`` and a mean regime duration of 60 bars.

    Args:
        kind: One of :data:`SCENARIO_KINDS`.

    Returns:
        The frozen default parameters.

    Raises:
        ValueError: For an unknown kind.
    """
    _check_kind(kind)
    if kind == "switching":
        return ScenarioParams(
            regimes=tuple(dataclasses.replace(_DEFAULTS[k], vol_trend=0.0) for k in REGIME_NAMES)
        )
    return _DEFAULTS[kind]


def generate(
    kind: str,
    n_bars: int,
    *,
    rng: np.random.Generator,
    params: ScenarioParams | None = None,
) -> pd.DataFrame:
    """Generate a synthetic OHLCV series with its true regime labels.

    Args:
        kind: One of :data:`SCENARIO_KINDS`.
        n_bars: Number of bars (>= 1).
        rng: Source of every random draw (same seed, same frame).
        params: Scenario parameters; ``None`` takes :func:`default_params` of ``kind``. For
            a single-regime kind the path fields are used as given; for ``switching`` the
            path fields come from ``params.regimes`` (defaults when ``None``) and the chain
            from ``transition``/``mean_duration``.

    Returns:
        Frame on a UTC ``DatetimeIndex`` named ``timestamp`` with float64 ``open high low
        close volume`` (``high >= max(open, close)``, ``low <= min(open, close)``,
        volume > 0) and an int8 ``true_regime`` column (0 uptrend, 1 downtrend, 2 plateau,
        3 oscillating). It passes :func:`regime_trader.data.validate_ohlcv`.

    Raises:
        ValueError: For an unknown kind or ``n_bars < 1``.
    """
    _check_kind(kind)
    if n_bars < 1:
        raise ValueError(f"n_bars must be >= 1, got {n_bars}")
    p = params if params is not None else default_params(kind)
    if kind == "switching":
        regimes = markov_regimes(n_bars, rng=rng, params=p)
        seg_params = p.regimes or default_params("switching").regimes or ()
    else:
        regimes = np.full(n_bars, REGIME_NAMES.index(kind), dtype=np.int8)
        seg_params = tuple(p for _ in REGIME_NAMES)
    starts = np.flatnonzero(np.diff(regimes, prepend=-1) != 0)
    ends = np.append(starts[1:], n_bars)
    log_close = np.empty(n_bars)
    scale = np.empty(n_bars)
    x0 = float(np.log(p.start_price))
    for a, b in zip(starts, ends, strict=True):
        x, s = _segment(b - a, x0, seg_params[regimes[a]], rng)
        log_close[a:b], scale[a:b] = x, s
        x0 = float(x[-1])
    cols = bars_from_closes(
        log_close,
        scale,
        rng=rng,
        prev_close=p.start_price,
        gap=p.gap,
        wick=p.wick,
        volume=p.volume,
        volume_sigma=p.volume_sigma,
    )
    frame = to_frame(cols, calendar(p.start, n_bars, p.freq))
    frame["true_regime"] = regimes.astype(np.int8)
    return frame


def transition_matrix(params: ScenarioParams) -> np.ndarray:
    """The 4x4 regime transition matrix of ``switching`` (explicit or from ``mean_duration``).

    Args:
        params: Scenario parameters.

    Returns:
        Row-stochastic float64 [4, 4]; row i is the next-bar distribution in regime i.
    """
    if params.transition is not None:
        return np.asarray(params.transition, dtype=np.float64)
    leave = 1.0 / params.mean_duration
    p = np.full((4, 4), leave / 3.0)
    np.fill_diagonal(p, 1.0 - leave)
    return p


def markov_regimes(n_bars: int, *, rng: np.random.Generator, params: ScenarioParams) -> np.ndarray:
    """Sample a regime path of a Markov chain over the four regimes.

    The first regime is uniform; each stay lasts a geometric number of bars with success
    probability ``1 - P[i, i]`` (the chain's holding time) and the next regime is drawn from
    row i without its diagonal. Loops over segments, not bars.

    Args:
        n_bars: Length of the path.
        rng: Source of every random draw.
        params: Gives the transition matrix (:func:`transition_matrix`).

    Returns:
        int8 [n_bars] of regimes 0..3.
    """
    p = transition_matrix(params)
    state = int(rng.integers(4))
    states: list[int] = []
    lengths: list[int] = []
    total = 0
    while total < n_bars:
        stay = p[state, state]
        length = n_bars - total if stay >= 1.0 else int(rng.geometric(1.0 - stay))
        states.append(state)
        lengths.append(length)
        total += length
        off = p[state].copy()
        off[state] = 0.0
        if off.sum() > 0:
            state = int(rng.choice(4, p=off / off.sum()))
    return np.repeat(np.array(states, dtype=np.int8), lengths)[:n_bars]


def _segment(
    n: int, x0: float, p: ScenarioParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Log closes and per-bar volatility scale of one segment (module docstring's model)."""
    t = np.arange(n, dtype=np.float64)
    shift = max(p.vol_trend, 0.0) * (n - 1)
    env = np.exp(p.vol_trend * t - shift)
    z = rng.standard_normal((2, n))
    walk = np.cumsum(p.volatility * env * z[0])
    wave = p.amplitude * env * np.sin(2.0 * np.pi * (t + 1.0) / p.period)
    x = x0 + p.drift * (t + 1.0) + walk + wave + p.noise * env * z[1]
    wave_var = 2.0 * (p.amplitude * np.sin(np.pi / p.period)) ** 2
    scale = env * np.sqrt(p.volatility**2 + 2.0 * p.noise**2 + wave_var)
    return x, scale


def _check_kind(kind: str) -> None:
    """Raise ``ValueError`` naming the valid kinds for an unknown one."""
    if kind not in SCENARIO_KINDS:
        raise ValueError(f"unknown scenario kind {kind!r}; expected one of {SCENARIO_KINDS}")
