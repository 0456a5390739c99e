"""The batched env and the uniform replay of a population, with the member axis first.

Every member has its own series (`MarketData`: a seed's copy of one window, or another
window), its own ``N`` episodes, its own replay and its own torch generator. The members'
bars are concatenated into one set of tensors (`StackedMarkets`, member ``m``'s bar ``t``
at row ``offset[m] + t``), so an observation, an env step, a replay write and a replay gather
are each one call for all members. Only the random draws run member by member: a torch
generator draws for one tensor at a time, and each member keeps its own stream, drawn in the
order `VectorTradingEnv` and `ReplayBuffer` draw it, so member ``m`` sees exactly the episode
starts, exploration and replay samples of ``train()`` with its seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from regime_trader.config import EnvConfig, RewardConfig
from regime_trader.envs import spec
from regime_trader.envs.market import MarketData
from regime_trader.envs.rewards import shaped_reward
from regime_trader.envs.vector_env import Transition
from regime_trader.replay.storage import ring_ranges
from regime_trader.types import Batch


@dataclass(frozen=True)
class StackedMarkets:
    """``M`` series concatenated along bars; ``offsets [M, 1]`` is each member's first row."""

    features: torch.Tensor  # [sum T, F] float32, row-major
    growth: torch.Tensor  # [sum T] float64
    size: torch.Tensor  # [sum T] float64
    regimes: torch.Tensor  # [sum T] int64
    offsets: torch.Tensor  # [M, 1] int64
    lengths: tuple[int, ...]

    @classmethod
    def build(cls, markets: Sequence[MarketData]) -> StackedMarkets:
        """Concatenate the members' series (same feature count and device).

        Raises:
            ValueError: the feature counts or devices differ.
        """
        if len({m.n_features for m in markets}) != 1 or len({m.device for m in markets}) != 1:
            raise ValueError("population members need the same feature count and device")
        lengths = tuple(len(m) for m in markets)
        starts = [0, *torch.tensor(lengths).cumsum(0)[:-1].tolist()]
        return cls(
            features=torch.cat([m.features for m in markets]).contiguous(),
            growth=torch.cat([m.growth for m in markets]),
            size=torch.cat([m.size for m in markets]),
            regimes=torch.cat([m.regimes for m in markets]),
            offsets=torch.tensor(starts, device=markets[0].device).unsqueeze(1),
            lengths=lengths,
        )

    @property
    def members(self) -> int:
        return len(self.lengths)

    def windows(self, rows: torch.Tensor, window: int) -> torch.Tensor:
        """Windows ending at global ``rows`` (any shape) -> ``[*rows.shape, W, F]``; as
        `MarketData.windows`: one ``index_select`` of a strided view."""
        n_bars, n_feat = self.features.shape
        view = self.features.as_strided((n_bars - window + 1, window, n_feat), (n_feat, n_feat, 1))
        return view.index_select(0, (rows - (window - 1)).reshape(-1)).view(
            *rows.shape, window, n_feat
        )


class PopulationEnv:
    """``M x N`` episodes, member ``m`` over decision bars ``bounds[m]`` of its own series.

    The state is `VectorTradingEnv`'s with a member axis first (``t [M, N]`` local bars,
    ``position [M, N]`` sides); the maths is the same `spec` and `shaped_reward` calls.

    Args:
        markets: the members' series.
        bounds: ``(first, last)`` decision bars of each member's episodes.
        cfg: execution settings (shared).
        n_envs: episodes per member.
        generators: one torch generator per member (episode starts).
        reward: reward shaping (shared).
    """

    def __init__(
        self,
        markets: StackedMarkets,
        bounds: Sequence[tuple[int, int]],
        cfg: EnvConfig,
        n_envs: int,
        generators: Sequence[torch.Generator],
        reward: RewardConfig,
    ) -> None:
        self.markets, self.cfg, self.n_envs, self.gens = markets, cfg, n_envs, list(generators)
        self.reward_cfg = reward
        self.bounds = [(int(a), int(b)) for a, b in bounds]
        dev = markets.features.device
        self.last = torch.tensor([b for _, b in self.bounds], device=dev).unsqueeze(1)
        shape = (markets.members, n_envs)
        self.t = torch.zeros(shape, dtype=torch.long, device=dev)
        self.stop = torch.zeros_like(self.t)
        self.position = torch.zeros(shape, dtype=torch.float64, device=dev)
        self.reset()

    def _starts(self) -> torch.Tensor:
        """Each member's episode starts from its own generator (`VectorTradingEnv.reset`'s
        draw): ``[M, N]``."""
        length, dev = self.cfg.episode_len, self.t.device
        rows = []
        for (first, last), gen in zip(self.bounds, self.gens, strict=True):
            span = max(last - first - length + 1, 0) + 1
            rows.append(first + torch.randint(span, (self.n_envs,), generator=gen, device=dev))
        return torch.stack(rows)

    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Start new episodes (all, or where ``mask [M, N]`` is true) at random bars, flat."""
        starts = self._starts()
        if mask is None:
            mask = torch.ones_like(self.t, dtype=torch.bool)
        stops = torch.minimum(starts + self.cfg.episode_len - 1, self.last.expand_as(starts))
        self.t = torch.where(mask, starts, self.t)
        self.stop = torch.where(mask, stops, self.stop)
        self.position = torch.where(mask, 0.0, self.position)

    def observe(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows ``[M, N, W, F]`` and agent state ``[M, N, 1]``."""
        window = self.markets.windows(self.t + self.markets.offsets, self.cfg.window)
        return window, self.position.float().unsqueeze(-1)

    def step(self, action: torch.Tensor) -> Transition:
        """One action per episode ``[M, N]``; advance one bar; auto-reset ended episodes.
        The `Transition` fields are ``[M, N]`` with local bars ``t``."""
        m, off = self.markets, self.markets.offsets
        rows = self.t + off
        new = spec.target_position(self.position, action, self.cfg.allow_short)
        growth, size = m.growth[rows], m.size[rows]
        prev_size = m.size[(self.t - 1).clamp(min=0) + off]
        ret, cost, _ = spec.sized_step(
            self.position, new, prev_size, size, growth, self.cfg.cost_bps
        )
        regime = m.regimes[rows] if self.reward_cfg.kind != "pnl" else None
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
        self.position = new
        self.t = self.t + 1
        self.reset(ended)
        return out


class PopulationReplay:
    """Uniform replay per member, stored ``[M, capacity, k]`` (index records, windows
    gathered at sample time, as `ReplayBuffer`); every member writes at the same cursor.

    Args:
        markets: the members' series.
        window: observation window W.
        capacity: transitions kept per member.
        generators: one torch generator per member (the same ones as the env's, as in
            ``train()``).
    """

    def __init__(
        self,
        markets: StackedMarkets,
        window: int,
        capacity: int,
        generators: Sequence[torch.Generator],
    ) -> None:
        self.markets, self.window, self.capacity, self.gens = markets, window, capacity, generators
        dev, m = markets.features.device, markets.members
        self.longs = torch.zeros(m, capacity, 3, dtype=torch.long, device=dev)  # t, action, regime
        self.floats = torch.zeros(m, capacity, 4, device=dev)  # position, reward, next, done
        self.cursor = self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, tr: Transition) -> None:
        """Store one batched transition of every member (``[M, N]`` fields)."""
        regime = self.markets.regimes[tr.t + self.markets.offsets]
        longs = torch.stack([tr.t, tr.action, regime], dim=-1)
        floats = torch.stack(
            [tr.position, tr.reward, tr.next_position, torch.zeros_like(tr.reward)], dim=-1
        )
        n = tr.t.shape[1]
        for lo, hi, off in ring_ranges(self.cursor, n, self.capacity):
            self.longs[:, lo:hi] = longs[:, off : off + hi - lo]
            self.floats[:, lo:hi] = floats[:, off : off + hi - lo]
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def batches(self, n: int, batch_size: int) -> list[Batch]:
        """``n`` batches ``[M, B, ...]`` drawn at once per member (`ReplayBuffer.batches`'s
        uniform draw: one ``randint`` of ``n * B`` slots from each member's generator)."""
        if n == 0:
            return []
        if self.size == 0:
            raise ValueError("the replay buffer is empty; add transitions before sampling")
        dev, m = self.longs.device, len(self.gens)
        slots = torch.stack(
            [
                torch.randint(self.size, (n * batch_size,), generator=g, device=dev)
                for g in self.gens
            ]
        )  # [M, n*B]
        flat = (slots + torch.arange(m, device=dev).unsqueeze(1) * self.capacity).reshape(-1)
        longs = self.longs.view(m * self.capacity, 3).index_select(0, flat).view(m, -1, 3)
        floats = self.floats.view(m * self.capacity, 4).index_select(0, flat).view(m, -1, 4)
        t = longs[..., 0]
        both = self.markets.windows(t + 1 + self.markets.offsets, self.window + 1)
        fields = Batch(
            window=both[:, :, :-1],
            state=floats[..., 0].unsqueeze(-1),
            action=longs[..., 1],
            reward=floats[..., 1],
            next_window=both[:, :, 1:],
            next_state=floats[..., 2].unsqueeze(-1),
            done=floats[..., 3],
            weights=torch.ones(m, n * batch_size, device=dev),
            indices=slots,
            regime=longs[..., 2],
        )
        parts = [f.view(m, n, batch_size, *f.shape[2:]).unbind(1) for f in fields]
        return [Batch(*b) for b in zip(*parts, strict=True)]
