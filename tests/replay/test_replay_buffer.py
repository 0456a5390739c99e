"""ReplayBuffer with each sampler: batches, priority updates, checkpoints, CPU/CUDA parity."""

from __future__ import annotations

import pytest
import torch

from regime_trader.config import ReplayConfig
from regime_trader.envs.vector_env import Transition
from regime_trader.replay import (
    PrioritizedSampler,
    RegimeAwareSampler,
    ReplayBuffer,
    SumTree,
    UniformSampler,
    build_replay,
)
from regime_trader.replay.storage import ring_ranges

KINDS = ["uniform", "prioritized", "regime"]


def transitions(market, n: int, gen: torch.Generator, window: int = 5) -> Transition:
    """``n`` random transitions at bars with a full window and a next bar."""
    t = torch.randint(window, len(market) - 2, (n,), generator=gen)
    position = torch.randint(-1, 2, (n,), generator=gen).float()
    return Transition(
        t=t,
        position=position,
        action=torch.randint(0, 3, (n,), generator=gen),
        reward=torch.randn(n, generator=gen),
        next_position=position.flip(0),
        step_return=torch.zeros(n, dtype=torch.float64),
    )


def filled_buffer(market, kind: str, capacity: int = 64, adds: int = 7, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    buffer = build_replay(ReplayConfig(kind=kind), market, 5, capacity, gen)
    for _ in range(adds):
        buffer.add(transitions(market, 16, gen))
    return buffer, gen


@pytest.mark.parametrize("kind", KINDS)
def test_build_replay_picks_the_configured_sampler(tiny_market, kind: str) -> None:
    buffer, _ = filled_buffer(tiny_market, kind)
    want = {"uniform": UniformSampler, "prioritized": PrioritizedSampler}
    assert type(buffer.sampler) is want.get(kind, RegimeAwareSampler)
    assert len(buffer) == 64  # 7 x 16 = 112 added, the oldest 48 overwritten


@pytest.mark.parametrize("kind", KINDS)
def test_sample_fills_weights_indices_and_regimes(tiny_market, kind: str) -> None:
    buffer, _ = filled_buffer(tiny_market, kind)
    batch = buffer.sample(32, beta=0.4)
    t = buffer.storage.data["t"][batch.indices]
    assert batch.window.shape == (32, 5, tiny_market.n_features)
    assert torch.equal(batch.window[:, -1], tiny_market.features[t])
    assert torch.equal(batch.next_window[:, -1], tiny_market.features[t + 1])
    assert torch.equal(batch.regime, tiny_market.regimes[t])
    assert batch.weights.shape == (32,) and batch.weights.dtype == torch.float32
    assert (batch.weights > 0).all() and (batch.weights <= 1).all()
    # every new item has the same (maximal) priority, so the first weights are all 1
    assert torch.equal(batch.weights, torch.ones(32))


def test_update_priorities_reaches_the_tree(tiny_market) -> None:
    buffer, _ = filled_buffer(tiny_market, "prioritized")
    batch = buffer.sample(8)
    slots = batch.indices.unique()
    td = torch.linspace(0.1, 2.0, slots.shape[0])
    buffer.update_priorities(slots, td)
    cfg = ReplayConfig()
    want = (td.double() + cfg.priority_eps) ** cfg.alpha
    assert isinstance(buffer.sampler, PrioritizedSampler)
    torch.testing.assert_close(buffer.sampler.tree.get(slots), want)
    # and the next batch's weights reflect the new priorities
    assert buffer.sample(64, beta=1.0).weights.min() < 1.0


def test_uniform_update_priorities_is_a_no_op(tiny_market) -> None:
    buffer, gen = filled_buffer(tiny_market, "uniform")
    state = gen.get_state()
    first = buffer.sample(16)
    buffer.update_priorities(first.indices, torch.rand(16))
    gen.set_state(state)
    assert torch.equal(buffer.sample(16).indices, first.indices)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_round_trip_gives_identical_next_samples(tiny_market, kind: str) -> None:
    buffer, gen = filled_buffer(tiny_market, kind, capacity=100)
    for _ in range(3):  # non-trivial priorities
        batch = buffer.sample(16)
        buffer.update_priorities(batch.indices, torch.rand(16, generator=gen))
    state = buffer.state_dict()
    restored = build_replay(ReplayConfig(kind=kind), tiny_market, 5, 100, torch.Generator())
    restored.load_state_dict(state)
    restored.gen.set_state(gen.get_state())
    for _ in range(3):
        a, b = buffer.sample(32, beta=0.5), restored.sample(32, beta=0.5)
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x, y)
        td = torch.rand(32, generator=gen)
        restored.gen.set_state(gen.get_state())
        buffer.update_priorities(a.indices, td)
        restored.update_priorities(b.indices, td)
    tr = transitions(tiny_market, 16, torch.Generator().manual_seed(9))
    buffer.add(tr)
    restored.add(tr)  # the cursor was restored too
    assert torch.equal(buffer.storage.data["t"], restored.storage.data["t"])


def test_load_state_dict_refuses_another_sampler(tiny_market) -> None:
    buffer, _ = filled_buffer(tiny_market, "prioritized")
    other = build_replay(ReplayConfig(kind="uniform"), tiny_market, 5, 64, torch.Generator())
    with pytest.raises(ValueError, match="PrioritizedSampler replay"):
        other.load_state_dict(buffer.state_dict())


def test_empty_buffer_and_oversized_adds_raise(tiny_market) -> None:
    gen = torch.Generator().manual_seed(0)
    buffer = ReplayBuffer(tiny_market, 5, 8, generator=gen)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(4)
    with pytest.raises(ValueError, match="capacity 8"):
        buffer.add(transitions(tiny_market, 9, gen))


def test_regime_buffer_draws_its_quotas(tiny_market) -> None:
    gen = torch.Generator().manual_seed(0)
    cfg = ReplayConfig(kind="regime", regime_quotas=(0.5, 0.0, 0.5, 0.0))
    buffer = build_replay(cfg, tiny_market, 5, 200, gen)
    buffer.add(transitions(tiny_market, 200, gen))
    batch = buffer.sample(64)
    assert torch.bincount(batch.regime + 1, minlength=5).tolist() == [0, 32, 0, 32, 0]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", ["prioritized", "regime"])
def test_cpu_cuda_parity(kind: str) -> None:
    def make(device: str):
        if kind == "regime":
            return RegimeAwareSampler(5000, (0.4, 0.3, 0.2, 0.1), device=device)
        return PrioritizedSampler(5000, device=device)

    cpu, gpu = make("cpu"), make("cuda")
    gen = torch.Generator().manual_seed(0)
    start = 0
    for n in (1000, 3000, 2500):
        slots = (torch.arange(n) + start) % 5000
        regimes = torch.randint(-1, 4, (n,), generator=gen)
        td = torch.rand(n, generator=gen)
        for s, dev in ((cpu, "cpu"), (gpu, "cuda")):
            s.on_add(slots.to(dev), regimes.to(dev), start=start)
            s.update(slots.to(dev), td.to(dev))
        start = (start + n) % 5000
    torch.testing.assert_close(gpu.tree.total().cpu(), cpu.tree.total(), rtol=1e-12, atol=0)
    assert torch.equal(gpu.tree.sums[-1].cpu(), cpu.tree.sums[-1])
    # the same prefixes find the same slots on both devices
    prefix = torch.rand(4096, generator=gen, dtype=torch.float64) * cpu.tree.total()[0]
    assert torch.equal(cpu.tree.find(prefix), gpu.tree.find(prefix.cuda()).cpu())
    # sampling on CUDA: valid slots and weights in (0, 1]
    slots, weights = gpu.sample(256, 5000, 0.5, torch.Generator("cuda").manual_seed(0))
    assert slots.device.type == "cuda" and (weights > 0).all() and (weights <= 1).all()
    assert (gpu.tree.get(slots, gpu.pool_of[slots] if kind == "regime" else None) > 0).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sum_tree_on_cuda_matches_cpu_with_duplicates() -> None:
    slots = torch.tensor([3, 1, 3, 3, 7, 1])
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    cpu, gpu = SumTree(10, fanout=2), SumTree(10, fanout=2, device="cuda")
    cpu.update(slots, values)
    gpu.update(slots.cuda(), values.cuda())
    assert torch.equal(gpu.sums[-1].cpu(), cpu.sums[-1])


def test_ring_ranges_split_a_wrapping_write() -> None:
    assert ring_ranges(3, 4, 5) == [(3, 5, 0), (0, 2, 2)]
    assert ring_ranges(0, 5, 5) == [(0, 5, 0)]
    assert ring_ranges(4, 0, 5) == []
    with pytest.raises(ValueError, match="capacity 5"):
        ring_ranges(0, 6, 5)


def test_uniform_batches_come_from_one_draw_and_priority_batches_are_lazy(tiny_market):
    import torch as _torch

    from regime_trader.config import ReplayConfig
    from regime_trader.envs.vector_env import Transition
    from regime_trader.replay import build_replay

    def fill(buf):
        t = _torch.arange(10, 40)
        n = len(t)
        buf.add(
            Transition(
                t,
                _torch.zeros(n),
                _torch.ones(n, dtype=_torch.long),
                _torch.rand(n),
                _torch.ones(n),
                _torch.zeros(n),
            )
        )

    uni = build_replay(ReplayConfig(), tiny_market, 5, 100, _torch.Generator().manual_seed(0))
    fill(uni)
    batches = list(uni.batches(3, 8))
    assert [b.window.shape for b in batches] == [(8, 5, tiny_market.n_features)] * 3
    twin = build_replay(ReplayConfig(), tiny_market, 5, 100, _torch.Generator().manual_seed(0))
    fill(twin)
    big = twin.sample(24)
    assert _torch.equal(_torch.cat([b.indices for b in batches]), big.indices)
    per = build_replay(
        ReplayConfig(kind="prioritized"), tiny_market, 5, 100, _torch.Generator().manual_seed(0)
    )
    fill(per)
    it = per.batches(2, 8)
    first = next(it)
    per.update_priorities(first.indices, _torch.full((8,), 1e6))  # seen by the next draw
    second = next(it)
    assert set(second.indices.tolist()) <= set(first.indices.tolist())
