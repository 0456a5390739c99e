"""Scoring, the walk and the accounting: how a trained net's decisions become a P&L.

One path for every consumer (backtest, calibration, evaluation, walk-forward, package,
service, paper): `score_all_positions` scores ``Q[T, P, A]``, `walk_policy` applies the
decision rule and walks the positions, and the sizing (the rule's confidence sizes times the
env's per-bar vol-target sizes, ``market.size``) is applied there, once; `simulate` only
accounts for the notional it is given.

The agent state (the position) depends on earlier actions, so the policy is scored for
every possible position of every bar in one batch (``Q[T, P, A]``); the path is then
walked with a parallel prefix composition of the per-bar transition tables (log2 T
vectorized steps, no Python loop over bars).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from regime_trader.agents.dqn import split_output
from regime_trader.config import EnvConfig
from regime_trader.envs import spec
from regime_trader.envs.market import MarketData
from regime_trader.policy.metrics import bars_per_year, compute_metrics
from regime_trader.policy.rule import (
    DecisionRule,
    position_sizes,
    regime_probabilities,
    rule_actions,
)


@dataclass(frozen=True)
class BacktestResult:
    """Per-decision arrays over the period: step i is the decision at ``index[i]``."""

    index: pd.DatetimeIndex
    t: np.ndarray  # decision bars (rows of MarketData)
    positions: np.ndarray  # position held over step i (after the fill)
    returns: np.ndarray  # net step returns
    costs: np.ndarray
    fill_prices: np.ndarray  # price of the fill after decision i
    actions: np.ndarray | None = None
    regime_pred: np.ndarray | None = None  # detected regime per bar (nets with a detector)

    @property
    def equity(self) -> np.ndarray:
        return np.cumprod(1.0 + self.returns)


def decision_range(
    market: MarketData, window: int, fill: str, start: int, stop: int
) -> tuple[int, int]:
    """First and last decision bars inside rows ``[start, stop)`` that have a full window and step."""
    first = max(start, window - 1)
    last = min(stop - 1, spec.last_decision(len(market), fill))
    if last < first:
        raise ValueError(f"period rows [{start}, {stop}) leave no decision bar with a full window")
    return first, last


def simulate(
    market: MarketData,
    positions: np.ndarray,
    first: int,
    last: int,
    cost_bps: float,
    actions: np.ndarray | None = None,
) -> BacktestResult:
    """Account for holding the notional ``positions[i]`` after decision ``first + i``
    (starting flat); costs are on traded notional. Sizing is already in ``positions``
    (`walk_policy`), never applied here."""
    t = np.arange(first, last + 1)
    growth = market.growth.cpu().numpy()[t]
    held = np.asarray(positions, float)
    returns, costs = spec.simulate_positions(held, growth, cost_bps)
    return BacktestResult(market.index[t], t, held, returns, costs, market.fill[t], actions)


def compose_walk(table: np.ndarray, start_state: int) -> np.ndarray:
    """States visited by ``s[i+1] = table[i, s[i]]`` from ``s[0] = start_state``.

    Returns the state *before* each step, ``[T]``. Uses a Hillis-Steele prefix scan over
    function composition: after the loop ``prefix[i] = table[i] o ... o table[0]``.
    """
    n = len(table)
    prefix = table.copy()
    shift = 1
    while shift < n:
        prefix[shift:] = np.take_along_axis(prefix[shift:], prefix[:-shift], axis=1)
        shift *= 2
    before = np.empty(n, dtype=table.dtype)
    before[0] = start_state
    before[1:] = prefix[:-1, start_state]
    return before


@torch.no_grad()
def score_windows(
    net: nn.Module, windows: torch.Tensor, positions: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The one scorer: Q-values of windows ``[B, W, F]`` at every position state,
    ``[B, P, A]``, and the detector's logits ``[B, K]`` (taken while flat; None without a
    detector). Backtests, calibration, packages and the service all score through it."""
    n_pos, flat = len(positions), positions.index(0.0)
    pos = torch.tensor(positions, dtype=torch.float32, device=windows.device)
    win = windows.repeat_interleave(n_pos, dim=0)
    q, logits = split_output(net(win, pos.repeat(len(windows)).unsqueeze(-1)))
    q_np = q.float().reshape(len(windows), n_pos, -1).cpu().numpy()
    if logits is None:
        return q_np, None
    return q_np, logits.float().reshape(len(windows), n_pos, -1)[:, flat].cpu().numpy()


def score_all_positions(
    net: nn.Module,
    market: MarketData,
    t: np.ndarray,
    window: int,
    positions: tuple[float, ...],
    chunk: int = 8192,
) -> tuple[np.ndarray, np.ndarray | None]:
    """`score_windows` for every decision bar ``t`` of ``market``: ``[T, P, A]`` and
    ``[T, K]`` (None without a detector)."""
    qs, regimes = [], []
    for lo in range(0, len(t), chunk):  # chunks bound memory; not a loop over bars
        tt = torch.as_tensor(t[lo : lo + chunk], device=market.device)
        q, logits = score_windows(net, market.windows(tt, window), positions)
        qs.append(q)
        if logits is not None:
            regimes.append(logits)
    return np.concatenate(qs), (np.concatenate(regimes) if regimes else None)


@dataclass(frozen=True)
class DecisionPath:
    """The walk of a policy over decision bars: step i is the decision at bar ``t[i]``."""

    actions: np.ndarray  # [T] action taken
    sides: np.ndarray  # [T] side held after the fill (-1, 0, 1): the net's position input
    positions: np.ndarray  # [T] notional held (side times size; equals sides with full sizing)
    q: np.ndarray  # [T, A] Q-values at the state the policy was in
    probs: np.ndarray  # [T, K] regime probabilities used by the rule
    regime_logits: np.ndarray | None  # [T, K] detector logits (nets with a detector)


def walk_policy(
    q_all: np.ndarray,
    probs: np.ndarray,
    allow_short: bool,
    rule: DecisionRule | None = None,
    start_side: float = 0.0,
    regime_logits: np.ndarray | None = None,
    size: np.ndarray | None = None,
) -> DecisionPath:
    """Apply ``rule`` to Q-values of every state ``[T, P, A]`` and walk the path from
    ``start_side`` (a prefix scan: no Python loop over bars).

    ``size`` ``[T]`` is the env's per-bar size multiplier (`bar_size`; None: full sizing):
    the notional held is ``side * rule size * size[t]``, the one place sizing is applied."""
    rule = rule or DecisionRule()
    states = spec.positions_for(allow_short)
    pos_values = np.asarray(states)
    acts = rule_actions(q_all, probs[:, None, :], rule)  # [T, P]
    targets = spec.target_position(pos_values[None, :], acts, allow_short)
    table = np.searchsorted(pos_values, targets).astype(np.int64)  # next state index
    before = compose_walk(table, states.index(float(start_side)))
    rows = np.arange(len(q_all))
    sides = pos_values[table[rows, before]]
    after = table[rows, before]
    q_held = q_all[rows, after]  # conviction at the side now held
    positions = position_sizes(q_held, probs, sides, rule)
    if size is not None:
        positions = positions * np.asarray(size, np.float64)
    return DecisionPath(
        acts[rows, before], sides, positions, q_all[rows, before], probs, regime_logits
    )


def policy_path(
    net: nn.Module,
    market: MarketData,
    first: int,
    last: int,
    cfg: EnvConfig,
    rule: DecisionRule | None = None,
) -> DecisionPath:
    """The decisions of ``net`` (with ``rule``) over bars ``first..last``, starting flat.

    Needs no future bars: the last decision may be the series' last bar (live use)."""
    was_training = net.training
    net.eval()
    try:
        t = np.arange(first, last + 1)
        q_all, logits = score_all_positions(
            net, market, t, cfg.window, spec.positions_for(cfg.allow_short)
        )
        probs = regime_probabilities(logits, market.regimes.cpu().numpy()[t])
        size = bar_size(market, t, cfg)
        return walk_policy(q_all, probs, cfg.allow_short, rule, regime_logits=logits, size=size)
    finally:
        net.train(was_training)


def bar_size(market: MarketData, t: np.ndarray, cfg: EnvConfig) -> np.ndarray | None:
    """The env's size multipliers at decision bars ``t`` (None with ``env.sizing: full``)."""
    return None if cfg.sizing == "full" else market.size.cpu().numpy()[t]


def backtest_net(
    net: nn.Module,
    market: MarketData,
    first: int,
    last: int,
    cfg: EnvConfig,
    rule: DecisionRule | None = None,
) -> BacktestResult:
    """Backtest ``net`` (greedy, or calibrated by ``rule``) over bars ``first..last``, flat start."""
    path = policy_path(net, market, first, last, cfg, rule)
    res = simulate(market, path.positions, first, last, cfg.cost_bps, path.actions)
    pred = None if path.regime_logits is None else path.regime_logits.argmax(axis=1)
    return dataclasses.replace(res, regime_pred=pred)


def regime_accuracy(result: BacktestResult, market: MarketData) -> float | None:
    """Share of the backtest's bars (with a known rule-based label) whose detected regime
    equals the label; None when the network has no regime detector."""
    if result.regime_pred is None:
        return None
    labels = market.regimes.cpu().numpy()[result.t]
    known = labels >= 0
    return float((result.regime_pred[known] == labels[known]).mean()) if known.any() else None


def policy_metrics(result: BacktestResult, market: MarketData) -> dict[str, float]:
    """`compute_metrics` of a backtest, plus ``regime_accuracy`` for networks with a regime
    detector."""
    metrics = compute_metrics(
        result.returns, result.positions, bars_per_year=bars_per_year(market.index)
    )
    accuracy = regime_accuracy(result, market)
    if accuracy is not None:
        metrics["regime_accuracy"] = accuracy
    return metrics
