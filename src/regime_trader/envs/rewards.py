"""Reward functions shared by both engines (NumPy and torch alike), in return units.

``pnl`` is the net step return. ``regime`` is the plan's ``calculate_reward`` (Phase 3) with
its bugs fixed (docs/rewards.md):

* the shaped part is the *gross* return of the held position, so the cost term below is
  exactly the cost the env charged (times ``cost_scale``), not a per-action constant;
* the missed-uptrend penalty applies when the agent is *out of the market* (position <= 0)
  during an uptrend — the sketch penalised every non-buy action, holding a long included;
* the over-trading penalty counts non-hold actions in the last ``overtrading_window`` steps
  (the sketch's ``recent_actions.count(action != 0)`` counts a boolean).

The regime is the rule-based label of the decision bar (causal); -1 (unknown) is neutral.
"""

from __future__ import annotations

from typing import Any

from regime_trader.config import RewardConfig
from regime_trader.envs.spec import _where

UPTREND, DOWNTREND = 0, 1


def regime_reward(
    gross: Any, cost: Any, new_position: Any, regime: Any, recent_trades: Any, cfg: RewardConfig
) -> Any:
    """The regime-aware reward of one step.

    Args:
        gross: ``new_position * (growth - 1)``, the return of the held position before costs.
        cost: the cost the env charged for this step's trade (fraction of equity).
        new_position: position held over the step.
        regime: rule-based regime label of the decision bar (0..3, -1 unknown).
        recent_trades: non-hold actions in the last ``cfg.overtrading_window`` steps,
            this step's action included.
        cfg: scales and penalties.
    """
    up, down = regime == UPTREND, regime == DOWNTREND
    down_scale = _where(gross > 0, cfg.downtrend_positive_scale, cfg.downtrend_negative_scale)
    scale = _where(up, cfg.uptrend_scale, _where(down, down_scale, 1.0))
    reward = gross * scale - cost * cfg.cost_scale
    reward = reward - _where(up & (new_position <= 0), cfg.missed_uptrend_penalty, 0.0)
    return reward - _where(recent_trades > cfg.max_trades, cfg.overtrading_penalty, 0.0)
