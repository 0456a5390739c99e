"""Gymnasium reference env: one episode, one bar per step, the maths from `spec.py`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from regime_trader.config import EnvConfig, RewardConfig
from regime_trader.envs import spec
from regime_trader.envs.market import MarketData
from regime_trader.envs.rewards import shaped_reward


class TradingEnv(gym.Env):
    """Trade one series bar by bar.

    Observation: ``{"window": float32[W, F], "state": float32[1]}`` — the features of bars
    ``t-W+1..t`` and the side held. Actions: 0 hold, 1 sell, 2 buy. The notional held over
    the step is ``side * market.size[t]`` (docs/sizing.md). Reward: the net step return (or
    the ``reward.kind`` shaping, a function of bar, side and action only) times
    ``reward_scale``; ``info`` carries ``step_return``, ``equity``, ``cost``, ``notional``, ``t``.

    Args:
        market: the series.
        cfg: execution settings.
        start: first decision bar allowed (default: the first full window).
        end: last decision bar allowed (default: the last bar with a complete step).
        random_start: draw each episode's first bar from ``self.np_random`` (episodes of
            ``cfg.episode_len`` steps); otherwise run from ``start`` to ``end``.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        market: MarketData,
        cfg: EnvConfig = EnvConfig(),
        *,
        start: int | None = None,
        end: int | None = None,
        random_start: bool = False,
        reward: RewardConfig | None = None,
    ) -> None:
        self.market, self.cfg, self.random_start = market, cfg, random_start
        self.reward_cfg = reward or RewardConfig()
        self._regimes = market.regimes.cpu().numpy()
        self.first, self.last = spec.decision_range(len(market), cfg.window, cfg.fill, start, end)
        self._features = market.features.cpu().numpy()
        self._growth = market.growth.cpu().numpy()
        self._size = market.size.cpu().numpy()
        lo = -1.0 if cfg.allow_short else 0.0
        self.observation_space = spaces.Dict(
            {
                "window": spaces.Box(-np.inf, np.inf, (cfg.window, market.n_features), np.float32),
                "state": spaces.Box(lo, 1.0, (1,), np.float32),
            }
        )
        self.action_space = spaces.Discrete(spec.N_ACTIONS)
        self.t, self.stop, self.position, self.equity = self.first, self.last, 0.0, 1.0

    def _obs(self) -> dict[str, np.ndarray]:
        w = self._features[
            self.t - self.cfg.window + 1 : self.t + 1
        ].copy()  # never alias market data
        return {"window": w, "state": np.array([self.position], dtype=np.float32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.t, self.stop = self.first, self.last
        if self.random_start:
            span = self.last - self.first - self.cfg.episode_len + 1
            self.t = self.first + int(self.np_random.integers(0, max(span, 0) + 1))
            self.stop = min(self.t + self.cfg.episode_len - 1, self.last)
        self.position, self.equity = 0.0, 1.0
        return self._obs(), {"t": self.t}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        new = float(spec.target_position(self.position, int(action), self.cfg.allow_short))
        growth, size = self._growth[self.t], self._size[self.t]
        prev_size = self._size[max(self.t - 1, 0)]  # the side was held over bar t-1's step
        old = np.float64(self.position)
        step = spec.sized_step(old, np.float64(new), prev_size, size, growth, self.cfg.cost_bps)
        ret, cost, held = map(float, step)
        regime = self._regimes[self.t]
        shaped = float(
            shaped_reward(ret, growth, cost, old, np.float64(new), regime, self.reward_cfg, size)
        )
        self.equity *= 1.0 + ret
        self.position = new
        info = {
            "t": self.t,
            "step_return": ret,
            "cost": cost,
            "notional": held,
            "equity": self.equity,
        }
        truncated = self.t >= self.stop
        self.t += 1
        return self._obs(), shaped * self.cfg.reward_scale, False, truncated, info
