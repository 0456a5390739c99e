"""The service's decisions, through the backtest's own functions.

`score_all_positions`-style scoring of one window at every position state, then one step of
`walk_policy` (the backtest's path walk: `rule_actions`, `target_position`, `position_sizes`)
from the side held. Shapes: window ``[W, F]`` scaled features, Q-values ``[P, A]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from regime_trader.agents.dqn import split_output
from regime_trader.envs import spec
from regime_trader.evaluation.backtest import policy_path, score_all_positions, walk_policy
from regime_trader.evaluation.decisions import regime_probabilities
from regime_trader.regimes import REGIME_NAMES

ACTION_NAMES = ("hold", "sell", "buy")


@dataclass(frozen=True)
class Decision:
    """The decision at one bar's close."""

    action: int
    side: float  # side held after the fill (-1, 0, 1)
    position: float  # target notional (side times size)
    q: np.ndarray  # [A] Q-values at the state the decision was taken in
    probs: np.ndarray  # [K] regime probabilities the rule used

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": ACTION_NAMES[self.action],
            "action_code": int(self.action),
            "side": float(self.side),
            "target_position": float(self.position),
            "q_values": {a: float(v) for a, v in zip(ACTION_NAMES, self.q, strict=True)},
            "regime_probabilities": {
                r: float(p) for r, p in zip(REGIME_NAMES, self.probs, strict=True)
            },
        }


@torch.no_grad()
def _score(model: Any, window: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Q-values ``[P, A]`` at every position state and detector logits ``[K]`` (while flat)."""
    positions = spec.positions_for(model.config.env.allow_short)
    dev = model.device
    win = torch.as_tensor(np.asarray(window, np.float32), device=dev)
    win = win.unsqueeze(0).expand(len(positions), *win.shape)
    pos = torch.tensor(positions, dtype=torch.float32, device=dev).unsqueeze(-1)
    with model_lock(model):
        q, logits = split_output(model.net(win, pos))
    flat = positions.index(0.0)
    lg = None if logits is None else logits[flat].float().cpu().numpy()
    return q.float().cpu().numpy(), lg


def model_lock(model: Any):  # noqa: ANN201 - a context manager
    """The model's torch lock (set by the service; made here for a bare model).

    Also pins this worker thread's torch threads to ``model._threads`` (default 1): OpenMP's
    thread count is per thread, so a thread-pool worker would otherwise start one thread per
    core for a ``[P, W*F]`` product and spin against the others (a 2 ms decision became 25 ms).
    """
    lock = getattr(model, "_torch_lock", None)
    if lock is None:
        import threading

        lock = threading.Lock()
        model._torch_lock = lock
    threads = getattr(model, "_threads", 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return lock


def decide_window(model: Any, window: np.ndarray, label: int, side: float) -> Decision:
    """Decision at the last row of a scaled ``[W, F]`` window, holding ``side``."""
    q_all, logits = _score(model, window)
    probs = regime_probabilities(
        None if logits is None else logits[None], np.array([label], np.int64)
    )
    path = walk_policy(
        q_all[None],
        probs,
        model.config.env.allow_short,
        model.rule,
        start_side=float(side),
        regime_logits=None if logits is None else logits[None],
    )
    return Decision(
        int(path.actions[0]), float(path.sides[0]), float(path.positions[0]), path.q[0], probs[0]
    )


def decide_bars(
    model: Any, bars: pd.DataFrame, side: float | None = None
) -> tuple[pd.Timestamp, Decision]:
    """Decision at the last of ``bars`` (raw OHLCV). ``side=None``: the backtest's path over
    these bars from flat (equals ``ModelPackage.decide(bars)``'s last row); else one step
    from ``side`` held at the last bar."""
    market = model.prepare(bars).market
    cfg = model.config.env
    last = len(market) - 1
    if last < cfg.window - 1:
        raise ValueError("too few bars for one window")
    with model_lock(model):
        if side is None:
            path = policy_path(model.net, market, cfg.window - 1, last, cfg, model.rule)
        else:
            q_all, logits = score_all_positions(
                model.net, market, np.array([last]), cfg.window, spec.positions_for(cfg.allow_short)
            )
            probs = regime_probabilities(logits, market.regimes.cpu().numpy()[[last]])
            path = walk_policy(q_all, probs, cfg.allow_short, model.rule, float(side), logits)
    i = len(path.actions) - 1
    d = Decision(
        int(path.actions[i]),
        float(path.sides[i]),
        float(path.positions[i]),
        path.q[i],
        path.probs[i],
    )
    return market.index[last], d
