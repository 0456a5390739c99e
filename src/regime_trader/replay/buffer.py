"""`ReplayBuffer` = index storage + a sampler, returning `Batch` records with windows gathered
from `MarketData` at sample time; `build_replay` picks the sampler from `ReplayConfig`."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from regime_trader.config import ReplayConfig
from regime_trader.envs.market import MarketData
from regime_trader.envs.vector_env import Transition
from regime_trader.replay.samplers import (
    PrioritizedSampler,
    RegimeAwareSampler,
    Sampler,
    UniformSampler,
)
from regime_trader.replay.storage import IndexStorage
from regime_trader.types import Batch


class ReplayBuffer:
    """Index storage bound to one `MarketData`, drawn by a sampler (uniform by default).

    Args:
        market: the series transitions index into.
        window: observation window W.
        capacity: transitions kept (the oldest are overwritten first).
        generator: torch generator for sampling (on the market's device).
        sampler: `UniformSampler`, `PrioritizedSampler` or `RegimeAwareSampler` built with the
            same ``capacity`` on the market's device; default uniform.

    Examples:
        >>> buffer = build_replay(cfg.replay, market, 30, 100_000, gen)  # doctest: +SKIP
        >>> buffer.add(env.step(action))  # doctest: +SKIP
        >>> batch = buffer.sample(256, beta=0.4)  # doctest: +SKIP
        >>> buffer.update_priorities(batch.indices, td.abs())  # doctest: +SKIP
    """

    def __init__(
        self,
        market: MarketData,
        window: int,
        capacity: int,
        *,
        generator: torch.Generator,
        sampler: Sampler | None = None,
    ) -> None:
        self.market, self.window, self.gen = market, window, generator
        self.storage = IndexStorage(capacity, market.device)
        self.sampler: Sampler = sampler if sampler is not None else UniformSampler(market.device)

    def __len__(self) -> int:
        return len(self.storage)

    def add(self, tr: Transition) -> None:
        """Store a batched transition (indices only) and register it with the sampler."""
        start = self.storage.cursor
        regime = self.market.regimes.index_select(0, tr.t)
        slots = self.storage.add(
            t=tr.t,
            position=tr.position,
            action=tr.action,
            reward=tr.reward,
            next_position=tr.next_position,
            done=torch.zeros_like(tr.reward),  # time-limit ends: always bootstrap
            regime=regime,
        )
        self.sampler.on_add(slots, regime, start=start)

    def sample(self, batch_size: int, beta: float = 1.0) -> Batch:
        """Draw ``batch_size`` transitions (with replacement) and their importance weights.

        Args:
            batch_size: transitions in the batch.
            beta: importance-weight exponent (see `beta_schedule`); ignored by uniform replay.
        """
        if len(self.storage) == 0:
            raise ValueError("the replay buffer is empty; add transitions before sampling")
        slots, weights = self.sampler.sample(batch_size, len(self.storage), beta, self.gen)
        return self.gather(slots, weights)

    def batches(self, n: int, batch_size: int, beta: float = 1.0) -> Iterator[Batch]:
        """Batches for ``n`` consecutive gradient steps with no transition added in between.

        Uniform replay draws all of them at once (one slot draw, one storage gather, one
        window gather, then ``n`` views): the same distribution as ``n`` calls of `sample`,
        since neither the contents nor the probabilities change between the steps. Priority
        samplers draw lazily, one batch per step, after the caller's `update_priorities`.
        """
        if not isinstance(self.sampler, UniformSampler):
            for _ in range(n):
                yield self.sample(batch_size, beta)
            return
        if n == 0:
            return
        big = self.sample(n * batch_size, beta)
        # one unbind per field: n views each, not n slices per field
        parts = [f.view(n, batch_size, *f.shape[1:]).unbind(0) for f in big]
        for fields in zip(*parts, strict=True):
            yield Batch(*fields)

    def update_priorities(self, indices: torch.Tensor, td_abs: torch.Tensor) -> None:
        """Set the priorities of sampled slots from their TD errors (no-op for uniform replay).

        Args:
            indices: ``Batch.indices`` of the batch the errors belong to, ``[B]``.
            td_abs: per-sample ``|y - Q(s, a)|`` ``[B]`` (detached; any float dtype).
        """
        self.sampler.update(indices, td_abs)

    def gather(self, slots: torch.Tensor, weights: torch.Tensor) -> Batch:
        """Build a `Batch` for the given slots."""
        f = self.storage.get(slots)
        both = self.market.windows(f["t"] + 1, self.window + 1)  # bars t-W+1 .. t+1, one gather
        return Batch(
            window=both[:, :-1],
            state=f["position"].unsqueeze(-1),
            action=f["action"],
            reward=f["reward"],
            next_window=both[:, 1:],
            next_state=f["next_position"].unsqueeze(-1),
            done=f["done"],
            weights=weights,
            indices=slots,
            regime=f["regime"],
        )

    def state_dict(self) -> dict:
        """Storage (fields, cursor, size) and sampler (priorities, pools) for checkpoints.

        The generator is not included: it is shared with the env, save it once with the run.
        """
        return {
            "storage": self.storage.state_dict(),
            "sampler": self.sampler.state_dict(),
            "sampler_kind": type(self.sampler).__name__,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a `state_dict` into a buffer built with the same capacity and sampler."""
        kind = type(self.sampler).__name__
        if state["sampler_kind"] != kind:
            raise ValueError(
                f"checkpoint holds a {state['sampler_kind']} replay but this buffer uses {kind}; "
                "build it from the same replay config"
            )
        self.storage.load_state_dict(state["storage"])
        self.sampler.load_state_dict(state["sampler"])


def build_replay(
    cfg: ReplayConfig,
    market: MarketData,
    window: int,
    capacity: int,
    generator: torch.Generator,
) -> ReplayBuffer:
    """The replay buffer ``cfg.kind`` asks for, on the market's device.

    Examples:
        >>> buffer = build_replay(cfg.replay, market, cfg.env.window, 100_000, gen)  # doctest: +SKIP
    """
    device = market.device
    sampler: Sampler
    if cfg.kind == "uniform":
        sampler = UniformSampler(device)
    elif cfg.kind == "prioritized":
        sampler = PrioritizedSampler(capacity, cfg.alpha, cfg.priority_eps, device)
    else:
        sampler = RegimeAwareSampler(
            capacity, cfg.regime_quotas, cfg.alpha, cfg.priority_eps, device
        )
    return ReplayBuffer(market, window, capacity, generator=generator, sampler=sampler)
