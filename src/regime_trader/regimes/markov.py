"""A probabilistic regime detector: a filtered (never smoothed) Markov-switching model.

The model is statsmodels' ``MarkovRegression`` with a switching mean and a switching variance
(Hamilton 1989) on ``y[t] = 100 * mean(log return over the last `window` bars)`` -- a causal
input: row t uses closes <= t. It is fitted on a training slice only; later bars are then
run through the Hamilton *filter* with the fitted parameters held fixed
(``MarkovRegression(y).filter(params)``), whose ``filtered_marginal_probabilities`` at bar t
condition on ``y[<= t]`` only. Smoothed probabilities (``smoothed_marginal_probabilities``,
or hmmlearn's ``predict_proba``) condition on the whole series and leak the future: this
module never reads them.

States are named after the rule regimes by their fitted parameters: the highest mean is
``UPTREND``, the lowest ``DOWNTREND``; with 3 or 4 states the middle ones, by variance, are
``PLATEAU`` then ``OSCILLATING``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

from regime_trader.errors import DataError
from regime_trader.regimes.rules import (
    DOWNTREND,
    OSCILLATING,
    PLATEAU,
    REGIME_NAMES,
    UNKNOWN,
    UPTREND,
    apply_min_duration,
)

__all__ = ["MarkovRegimeDetector", "fit_markov_detector", "markov_input"]

_CLIP_SD = 25.0  # observations beyond this many sds of the widest state are clipped to it


def markov_input(ohlcv: pd.DataFrame, window: int) -> np.ndarray:
    """The model's observation: 100 x mean 1-bar log return over the last ``window`` bars.

    Args:
        ohlcv: OHLCV frame; only ``close`` is used.
        window: Bars averaged (1 = raw log returns).

    Returns:
        float64 ``[T]``, NaN on the first ``window`` rows.

    Raises:
        DataError: Without a ``close`` column or with non-positive closes.
    """
    if "close" not in ohlcv.columns:
        raise DataError("the Markov detector needs a lower-case 'close' column")
    close = ohlcv["close"].to_numpy(dtype=np.float64)
    if np.any(~(close > 0)):
        raise DataError("the Markov detector needs positive, finite closes")
    logret = pd.Series(np.log(close)).diff()
    return (100.0 * logret.rolling(window, min_periods=window).mean()).to_numpy()


@dataclass(frozen=True)
class MarkovRegimeDetector:
    """A fitted Markov-switching detector (build it with :func:`fit_markov_detector`).

    Attributes:
        k_regimes: Number of hidden states.
        window: Bars of the averaged log return the model observes.
        params: statsmodels' parameter vector (transition probabilities, means, variances).
        state_labels: Rule regime of each state (``UPTREND`` ... ``OSCILLATING``).
        means: Fitted mean of ``y`` in each state.
        variances: Fitted variance of ``y`` in each state.
        converged: Whether the optimiser reported convergence.
        train_bars: Observations the model was fitted on.
    """

    k_regimes: int
    window: int
    params: tuple[float, ...]
    state_labels: tuple[int, ...]
    means: tuple[float, ...]
    variances: tuple[float, ...]
    converged: bool
    train_bars: int

    @property
    def lookback(self) -> int:
        """Warm-up rows without a probability (the input's first ``window`` rows)."""
        return self.window

    def _model(self, y: np.ndarray) -> MarkovRegression:
        return MarkovRegression(y, k_regimes=self.k_regimes, switching_variance=True)

    def state_probabilities(self, ohlcv: pd.DataFrame) -> np.ndarray:
        """Filtered state probabilities ``P(state at t | y[<= t])`` with the fitted params.

        Args:
            ohlcv: OHLCV frame (train, later bars, or both: the filter is causal either
                way; starting later, it starts from the chain's steady state).

        Returns:
            float64 ``[T, k_regimes]``; NaN on the warm-up rows.

        Raises:
            DataError: If the series has no bar after the warm-up.
        """
        y = markov_input(ohlcv, self.window)
        out = np.full((y.size, self.k_regimes), np.nan)
        if y.size <= self.window + 1:
            raise DataError(
                f"the Markov detector needs more than {self.window + 1} bars, got {y.size}"
            )
        # An observation tens of sds from every state (a -50% day) underflows every state's
        # density and the filter turns NaN for good; clipping it at _CLIP_SD sds of the widest
        # state keeps the verdict (that state) and the filter finite. Uses the params only.
        sd = float(np.sqrt(max(self.variances)))
        lo, hi = min(self.means) - _CLIP_SD * sd, max(self.means) + _CLIP_SD * sd
        obs = np.clip(y[self.window :], lo, hi)
        res = self._model(obs).filter(np.asarray(self.params))
        out[self.window :] = np.asarray(res.filtered_marginal_probabilities)
        return out

    def regime_probabilities(self, ohlcv: pd.DataFrame) -> pd.DataFrame:
        """Filtered probability of each rule regime (states summed by their label).

        Args:
            ohlcv: OHLCV frame.

        Returns:
            Frame with the input's index and one column per name in ``REGIME_NAMES``
            (0 for a regime no state stands for); rows sum to 1, NaN during warm-up.
        """
        p = self.state_probabilities(ohlcv)
        mapping = np.zeros((self.k_regimes, len(REGIME_NAMES)))
        mapping[np.arange(self.k_regimes), list(self.state_labels)] = 1.0
        return pd.DataFrame(p @ mapping, index=ohlcv.index, columns=list(REGIME_NAMES))

    def labels(self, ohlcv: pd.DataFrame, min_duration: int = 1) -> np.ndarray:
        """Most probable regime at each bar under the filter (causal), optionally debounced.

        Args:
            ohlcv: OHLCV frame.
            min_duration: Passed to :func:`~regime_trader.regimes.rules.apply_min_duration`.

        Returns:
            int8 ``[T]`` labels, ``UNKNOWN`` during warm-up.
        """
        p = self.state_probabilities(ohlcv)
        lab = np.full(p.shape[0], UNKNOWN, dtype=np.int8)
        ok = ~np.isnan(p[:, 0])
        lab[ok] = np.asarray(self.state_labels, dtype=np.int8)[p[ok].argmax(axis=1)]
        return apply_min_duration(lab, min_duration)


def _state_labels(means: np.ndarray, variances: np.ndarray) -> tuple[int, ...]:
    """Name states: highest mean uptrend, lowest downtrend, middle by variance."""
    order = np.argsort(means, kind="stable")
    labels = np.full(means.size, UNKNOWN, dtype=np.int64)
    labels[order[-1]], labels[order[0]] = UPTREND, DOWNTREND
    middle = sorted(order[1:-1], key=lambda i: variances[i])
    for state, label in zip(middle, (PLATEAU, OSCILLATING), strict=False):
        labels[state] = label
    return tuple(int(v) for v in labels)


def fit_markov_detector(
    train: pd.DataFrame,
    *,
    k_regimes: int = 3,
    window: int = 10,
    maxiter: int = 100,
) -> MarkovRegimeDetector:
    """Fit the Markov-switching model on a training slice (maximum likelihood, deterministic).

    Args:
        train: OHLCV bars of the training split only (never validation or test bars).
        k_regimes: Hidden states, 2 to 4 (3 = uptrend, downtrend, flat).
        window: Bars of the averaged log return (10 separates trends from noise on daily
            bars; 1 models raw returns).
        maxiter: Optimiser iterations after statsmodels' EM start.

    Returns:
        A fitted :class:`MarkovRegimeDetector`.

    Raises:
        ValueError: For ``k_regimes`` outside 2..4 or ``window < 1``.
        DataError: With fewer than ``50 * k_regimes`` usable training bars.
    """
    if not 2 <= k_regimes <= 4:
        raise ValueError(f"k_regimes must be 2, 3 or 4, got {k_regimes}")
    if window < 1:
        raise ValueError(f"window must be >= 1 bar, got {window}")
    y = markov_input(train, window)[window:]
    need = 50 * k_regimes
    if y.size < need:
        raise DataError(
            f"fitting a {k_regimes}-state Markov detector needs at least {need + window + 1} "
            f"training bars, got {len(train)}"
        )
    model = MarkovRegression(y, k_regimes=k_regimes, switching_variance=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        res = model.fit(disp=False, maxiter=maxiter, search_reps=0)
    converged = bool(res.mle_retvals.get("converged", True)) and not any(
        issubclass(w.category, ConvergenceWarning) for w in caught
    )
    names = list(model.param_names)
    params = np.asarray(res.params, dtype=np.float64)
    means = np.array([params[names.index(f"const[{i}]")] for i in range(k_regimes)])
    variances = np.array([params[names.index(f"sigma2[{i}]")] for i in range(k_regimes)])
    return MarkovRegimeDetector(
        k_regimes=k_regimes,
        window=window,
        params=tuple(float(v) for v in params),
        state_labels=_state_labels(means, variances),
        means=tuple(float(v) for v in means),
        variances=tuple(float(v) for v in variances),
        converged=converged,
        train_bars=int(y.size),
    )
