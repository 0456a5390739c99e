"""The service's decisions, through the policy layer's own scorer and walk.

One window is scored at every position state by `policy.backtest.score_windows` (the
backtest's scorer) or, for the baseline MLP on the CPU, by its NumPy forward
`policy.fast.MLPWindowScorer` (the same Q-values to float32 rounding, without torch's per-call
overhead; `tests/serve/test_speed_parity.py`), then one step of `walk_policy` (the backtest's
walk: `rule_actions`, `target_position`, `position_sizes`, the env's vol-target size) runs
from the side held. Shapes: window ``[W, F]`` scaled features, Q-values ``[P, A]``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from regime_trader.envs import spec
from regime_trader.policy.backtest import bar_size, score_windows, walk_policy
from regime_trader.policy.fast import scorer_for
from regime_trader.policy.policy import ACTION_NAMES, Policy
from regime_trader.policy.rule import regime_probabilities
from regime_trader.regimes import REGIME_NAMES


@dataclass(frozen=True)
class Decision:
    """The decision at one bar's close."""

    action: int
    side: float  # side held after the fill (-1, 0, 1)
    position: float  # target notional (side times size)
    q: np.ndarray  # [A] Q-values at the state the decision was taken in
    probs: np.ndarray  # [K] regime probabilities the rule used
    label: int = -1  # the causal rule label of the bar (-1: unknown, warm-up)
    measured: bool = True  # probabilities from a detector (False: the rule label's one-hot)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": ACTION_NAMES[self.action],
            "action_code": int(self.action),
            "side": float(self.side),
            "target_position": float(self.position),
            "q_values": {a: float(v) for a, v in zip(ACTION_NAMES, self.q, strict=True)},
            "regime_label": REGIME_NAMES[self.label] if self.label >= 0 else "unknown",
            "regime_code": int(self.label),
        }
        if self.measured:  # a net without a detector has no probabilities to report
            out["regime_probabilities"] = {
                r: float(p) for r, p in zip(REGIME_NAMES, self.probs, strict=True)
            }
        return out


def model_lock(model: Policy) -> threading.Lock:
    """The model's torch lock (set by the service; made here for a bare model).

    Also pins this worker thread's torch threads to ``model._threads`` (default 1): OpenMP's
    thread count is per thread, so a thread-pool worker would otherwise start one thread per
    core for a ``[P, W*F]`` product and spin against the others (a 2 ms decision became 25 ms).
    """
    if model._torch_lock is None:
        model._torch_lock = threading.Lock()
    if torch.get_num_threads() != model._threads:
        torch.set_num_threads(model._threads)
    return model._torch_lock


def score_window(
    model: Policy, window: np.ndarray, positions: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Q-values ``[1, P, A]`` and detector logits ``[1, K]`` (None without a detector) of one
    scaled window ``[W, F]``: the NumPy MLP forward when it handles the net (no lock: it only
    reads the weights), else `score_windows` under the model's torch lock."""
    scorer = scorer_for(model.net, positions)
    if scorer is not None:
        return scorer(window), None
    win = torch.from_numpy(np.ascontiguousarray(window, np.float32))[None].to(model.device)
    with model_lock(model), torch.inference_mode():
        return score_windows(model.net, win, positions)


def decide_window(
    model: Policy, window: np.ndarray, label: int, side: float, size: float | None = None
) -> Decision:
    """Decision at the last row of a scaled ``[W, F]`` window, holding ``side``; ``size`` is
    the env's vol-target size at that bar (None: full sizing)."""
    positions = spec.positions_for(model.config.env.allow_short)
    q_all, logits = score_window(model, window, positions)
    probs = regime_probabilities(logits, np.array([label], np.int64))
    sizes = None if size is None else np.array([size], np.float64)
    path = walk_policy(
        q_all, probs, model.config.env.allow_short, model.rule, float(side), logits, sizes
    )
    return Decision(
        int(path.actions[0]),
        float(path.sides[0]),
        float(path.positions[0]),
        path.q[0],
        probs[0],
        int(label),
        logits is not None,
    )


def decide_bars(
    model: Policy, bars: pd.DataFrame, side: float | None = None
) -> tuple[pd.Timestamp, Decision]:
    """Decision at the last of ``bars`` (raw OHLCV). ``side=None``: the backtest's path over
    these bars from flat (equals ``Policy.decide(bars)``'s last row); else one step from
    ``side`` held at the last bar."""
    market = model.prepare(bars).market
    cfg = model.config.env
    last = len(market) - 1
    if last < cfg.window - 1:
        raise ValueError("too few bars for one window")
    if side is None:
        with model_lock(model):
            path = model.decisions(market, cfg.window - 1, last)
    else:
        t = np.array([last])
        window = market.windows(torch.as_tensor(t), cfg.window)[0].cpu().numpy()
        q_all, logits = score_window(model, window, spec.positions_for(cfg.allow_short))
        probs = regime_probabilities(logits, market.regimes.cpu().numpy()[t])
        size = bar_size(market, t, cfg)
        path = walk_policy(q_all, probs, cfg.allow_short, model.rule, float(side), logits, size)
    i = len(path.actions) - 1
    d = Decision(
        int(path.actions[i]),
        float(path.sides[i]),
        float(path.positions[i]),
        path.q[i],
        path.probs[i],
        int(market.regimes[last]),
        path.regime_logits is not None,
    )
    return market.index[last], d
