"""Reward functions shared by both engines (NumPy and torch alike), in return units.

``pnl`` is the net step return. ``regime`` is the plan's ``calculate_reward`` (Phase 3) with
its bugs fixed (docs/rewards.md):

* the shaped part is the *gross* return of the held position, so the cost term below is
  exactly the cost the env charged (times ``cost_scale``), not a per-action constant;
* the missed-uptrend penalty applies when the agent is *out of the market* (position <= 0)
  during an uptrend — the sketch penalised every non-buy action, holding a long included;
* the over-trading penalty is charged once per *position change* (a hold, or a buy while
  already long, trades nothing). The sketch counted actions in a window of recent steps,
  which the observation does not show; this term depends on the step's own position and
  action only, so the reward is a function of (observation, action) and the MDP stays Markov.

The regime is the rule-based label of the decision bar (causal); -1 (unknown) is neutral.
With sizing (docs/sizing.md) positions here are *sides*; the gross return is on the notional
``new_position * size`` and the cost is the env's cost on traded notional, so rebalancing a
held side pays its cost but no over-trading penalty.
Every input is rebuilt from a replay record ``(t, position, action)`` and the market data.
"""

from __future__ import annotations

from typing import Any

from regime_trader.config import RewardConfig
from regime_trader.envs.spec import _where
from regime_trader.regimes import DOWNTREND, UPTREND


def regime_reward(
    gross: Any, cost: Any, position: Any, new_position: Any, regime: Any, cfg: RewardConfig
) -> Any:
    """The regime-aware reward of one step.

    Args:
        gross: ``new_position * size * (growth - 1)``, the return of the held notional before
            costs.
        cost: the cost the env charged for this step's trade (fraction of equity).
        position: side held before the action.
        new_position: side held over the step (after the action).
        regime: rule-based regime label of the decision bar (0..3, -1 unknown).
        cfg: scales and penalties.
    """
    up, down = regime == UPTREND, regime == DOWNTREND
    down_scale = _where(gross > 0, cfg.downtrend_positive_scale, cfg.downtrend_negative_scale)
    scale = _where(up, cfg.uptrend_scale, _where(down, down_scale, 1.0))
    reward = gross * scale - cost * cfg.cost_scale
    reward = reward - _where(up & (new_position <= 0), cfg.missed_uptrend_penalty, 0.0)
    return reward - _where(new_position != position, cfg.overtrading_penalty, 0.0)


def shaped_reward(
    ret: Any,
    growth: Any,
    cost: Any,
    position: Any,
    new_position: Any,
    regime: Any,
    cfg: RewardConfig,
    size: Any = 1.0,
) -> Any:
    """The reward ``cfg.kind`` asks for, before ``env.reward_scale``.

    Args:
        ret: the net step return (``spec.sized_step``), the ``pnl`` reward.
        growth: ``fill[t+1] / fill[t]`` of the decision bar.
        cost, position, new_position, regime: as for ``regime_reward``.
        size: ``size[t]`` of the decision bar (the notional held is ``new_position * size``).
    """
    if cfg.kind == "pnl":
        return ret
    gross = new_position * size * (growth - 1.0)
    return regime_reward(gross, cost, position, new_position, regime, cfg)
