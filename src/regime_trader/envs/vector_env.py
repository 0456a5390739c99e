"""Batched torch env: N episodes at once on any device, the maths from `spec.py`.

State lives in tensors ``t [N]`` (current decision bar) and ``position [N]`` (the side; the
notional held is ``side * market.size[t]``, docs/sizing.md); an observation is gathered from
`MarketData` by index, so nothing is copied per env. Every reward is a function of the
decision bar, the side and the action alone (`rewards.shaped_reward`; the notional before the
fill is ``side * size[t-1]``), so the observation ``(window of t, position)`` is a Markov state
and a replay record ``(t, position, action)`` determines its transition.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from regime_trader.config import EnvConfig, RewardConfig
from regime_trader.envs import spec
from regime_trader.envs.market import MarketData
from regime_trader.envs.rewards import shaped_reward


class Transition(NamedTuple):
    """What one batched step produced, by index (the replay stores exactly this).

    No ``done`` flag: every episode ends at a time limit, after which the target still
    bootstraps, so replay stores ``done = 0``; the env auto-resets ended episodes itself.
    """

    t: torch.Tensor  # [N] int64 decision bar
    position: torch.Tensor  # [N] float32 position before the action
    action: torch.Tensor  # [N] int64
    reward: torch.Tensor  # [N] float32
    next_position: torch.Tensor  # [N] float32
    step_return: torch.Tensor  # [N] float64 net return of the step
    cost: torch.Tensor | None = None  # [N] float64 cost paid on traded notional


class VectorTradingEnv:
    """N independent episodes over bars ``[start, end]`` of one series, auto-reset.

    Args:
        market: the series (already on the target device).
        cfg: execution settings (``episode_len`` steps per episode).
        n_envs: episodes run at once.
        generator: torch generator for episode starts (on the market's device).
        start, end: range of decision bars episodes may use.
    """

    def __init__(
        self,
        market: MarketData,
        cfg: EnvConfig,
        n_envs: int,
        *,
        generator: torch.Generator,
        start: int | None = None,
        end: int | None = None,
        reward: RewardConfig | None = None,
    ) -> None:
        self.market, self.cfg, self.n_envs, self.gen = market, cfg, n_envs, generator
        self.reward_cfg = reward or RewardConfig()
        self.first, self.last = spec.decision_range(len(market), cfg.window, cfg.fill, start, end)
        dev = market.device
        self.t = torch.zeros(n_envs, dtype=torch.long, device=dev)
        self.stop = torch.zeros_like(self.t)
        self.position = torch.zeros(n_envs, dtype=torch.float64, device=dev)
        self.equity = torch.ones(n_envs, dtype=torch.float64, device=dev)
        self.segments = torch.tensor([[self.first, self.last]], device=dev)
        self.cost_bps = cfg.cost_bps
        self.reset()

    def set_segments(self, segments: torch.Tensor, cost_bps: float | None = None) -> None:
        """Draw later episodes from these ``[S, 2]`` first/last decision-bar ranges (uniformly
        over segments, then over starts) at ``cost_bps`` (default: the config's)."""
        self.segments = segments.to(self.t.device)
        self.cost_bps = self.cfg.cost_bps if cost_bps is None else cost_bps

    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Start new episodes (all, or where ``mask`` is true) at random bars, flat."""
        dev, n, length = self.t.device, self.n_envs, self.cfg.episode_len
        if mask is None:
            mask = torch.ones(n, dtype=torch.bool, device=dev)
        if len(self.segments) == 1:
            first, last = int(self.segments[0, 0]), int(self.segments[0, 1])
            span = max(last - first - length + 1, 0) + 1
            starts = first + torch.randint(span, (n,), generator=self.gen, device=dev)
            lasts = torch.full_like(starts, last)
        else:
            pick = torch.randint(len(self.segments), (n,), generator=self.gen, device=dev)
            firsts, lasts = self.segments[pick, 0], self.segments[pick, 1]
            spans = (lasts - firsts - length + 1).clamp(min=0) + 1
            starts = firsts + (torch.rand(n, generator=self.gen, device=dev) * spans).long()
        stops = torch.minimum(starts + length - 1, lasts)
        self.t = torch.where(mask, starts, self.t)
        self.stop = torch.where(mask, stops, self.stop)
        self.position = torch.where(mask, 0.0, self.position)
        self.equity = torch.where(mask, 1.0, self.equity)

    def observe(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Current observations: windows ``[N, W, F]`` and agent state ``[N, 1]``."""
        return self.market.windows(self.t, self.cfg.window), self.position.float().unsqueeze(-1)

    def step(self, action: torch.Tensor) -> Transition:
        """Apply one action per env, advance one bar, auto-reset finished episodes."""
        new = spec.target_position(self.position, action, self.cfg.allow_short)
        growth, size = self.market.growth[self.t], self.market.size[self.t]
        prev_size = self.market.size[(self.t - 1).clamp(min=0)]  # side held over bar t-1
        ret, cost, _held = spec.sized_step(
            self.position, new, prev_size, size, growth, self.cost_bps
        )
        regime = self.market.regimes[self.t] if self.reward_cfg.kind != "pnl" else None
        shaped = shaped_reward(ret, growth, cost, self.position, new, regime, self.reward_cfg, size)
        ended = self.t >= self.stop
        out = Transition(
            t=self.t.clone(),
            position=self.position.float(),
            action=action,
            reward=(shaped * self.cfg.reward_scale).float(),
            next_position=new.float(),
            step_return=ret,
            cost=cost,
        )
        self.equity = self.equity * (1.0 + ret)
        self.position = new
        self.t = self.t + 1
        self.reset(ended)
        return out

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Episode state, for checkpoints."""
        return {
            "t": self.t,
            "stop": self.stop,
            "position": self.position,
            "equity": self.equity,
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore `state_dict` (same number of envs; keys of older checkpoints are ignored)."""
        dev = self.t.device
        self.t, self.stop = state["t"].to(dev), state["stop"].to(dev)
        self.position, self.equity = state["position"].to(dev), state["equity"].to(dev)
