"""Prioritized and regime-aware samplers: frequencies, weights, quotas, priority updates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from regime_trader.replay.samplers import (
    PrioritizedSampler,
    RegimeAwareSampler,
    UniformSampler,
    beta_schedule,
)

# Upper 0.1% point of the chi-square distribution with 19 degrees of freedom (20 cells),
# i.e. scipy.stats.chi2.ppf(0.999, 19); scipy is not a dependency, so it is written here.
CHI2_999_DOF19 = 43.820


def chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    """Pearson's statistic of observed ``counts`` against cell probabilities ``probs``."""
    expected = counts.sum() * probs / probs.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def filled(sampler: PrioritizedSampler, td: torch.Tensor, regimes: torch.Tensor | None = None):
    """Add ``len(td)`` items (regimes default 0) and set their priorities from ``td``."""
    n = td.shape[0]
    regimes = torch.zeros(n, dtype=torch.long) if regimes is None else regimes
    sampler.on_add(torch.arange(n), regimes, start=0)
    sampler.update(torch.arange(n), td)
    return sampler


def draw_counts(sampler, n_items: int, batches: int, batch: int = 256, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    counts = np.zeros(n_items)
    for _ in range(batches):
        slots, _ = sampler.sample(batch, n_items, 1.0, gen)
        counts += np.bincount(slots.numpy(), minlength=n_items)
    return counts


@pytest.mark.slow  # ~6 s on two busy cores
def test_sampling_frequencies_follow_priority_power_alpha() -> None:
    alpha, eps = 0.6, 1e-3
    td = torch.linspace(0.05, 3.0, 20, dtype=torch.float64)
    sampler = filled(PrioritizedSampler(20, alpha=alpha, eps=eps), td)
    counts = draw_counts(sampler, 20, batches=782)  # 200,192 draws
    p_alpha = (td.numpy() + eps) ** alpha
    assert chi_square(counts, p_alpha) < CHI2_999_DOF19
    # the test has power: the same draws are far from proportional to p (alpha = 1)
    assert chi_square(counts, td.numpy() + eps) > 100 * CHI2_999_DOF19


@pytest.mark.slow  # ~5 s on two busy cores
def test_frequencies_within_each_regime_follow_priority_power_alpha() -> None:
    alpha, eps = 0.8, 1e-3
    td = torch.linspace(0.1, 2.0, 40, dtype=torch.float64)
    regimes = torch.arange(40) % 2  # two regimes of 20 items, half a batch each
    sampler = RegimeAwareSampler(40, (0.5, 0.5, 0.0, 0.0), alpha=alpha, eps=eps)
    counts = draw_counts(filled(sampler, td, regimes), 40, batches=400)
    p_alpha = (td.numpy() + eps) ** alpha
    for r in (0, 1):
        mask = regimes.numpy() == r
        assert counts[mask].sum() == 400 * 128
        assert chi_square(counts[mask], p_alpha[mask]) < CHI2_999_DOF19


def test_importance_weights_match_hand_computation() -> None:
    alpha, beta, eps = 0.7, 0.4, 0.01
    td = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    sampler = filled(PrioritizedSampler(8, alpha=alpha, eps=eps), td)
    slots, weights = sampler.sample(64, 4, beta, torch.Generator().manual_seed(1))
    p = (td.numpy() + eps) ** alpha
    prob = p / p.sum()
    w = (4 * prob) ** -beta / ((4 * prob) ** -beta).max()  # (N P(i))^-beta / max_j
    assert set(slots.tolist()) == {0, 1, 2, 3}  # nothing drawn from the empty slots
    np.testing.assert_allclose(weights.numpy(), w[slots.numpy()], rtol=1e-6)
    assert weights.dtype == torch.float32 and weights.max() <= 1.0
    # beta = 0: no correction
    _, flat = sampler.sample(16, 4, 0.0, torch.Generator().manual_seed(2))
    assert torch.equal(flat, torch.ones(16))


def test_regime_weights_correct_priorities_within_each_regime() -> None:
    alpha, beta, eps = 1.0, 0.5, 0.0001
    td = torch.tensor([1.0, 3.0, 2.0, 2.0, 6.0], dtype=torch.float64)
    regimes = torch.tensor([0, 0, 1, 1, 1])
    sampler = filled(RegimeAwareSampler(5, (0.5, 0.5, 0, 0), alpha=alpha, eps=eps), td, regimes)
    slots, weights = sampler.sample(32, 5, beta, torch.Generator().manual_seed(0))
    p = td.numpy() + eps
    n_r = np.array([2, 3])[regimes.numpy()]
    total_r = np.array([p[:2].sum(), p[2:].sum()])[regimes.numpy()]
    raw = (n_r * p / total_r) ** -beta  # (N_r P(i | r))^-beta
    np.testing.assert_allclose(weights.numpy(), (raw / raw.max())[slots.numpy()], rtol=1e-6)


@pytest.mark.parametrize(
    ("quotas", "batch", "want"),
    [
        ((0.5, 0.25, 0.125, 0.125), 64, [32, 16, 8, 8, 0]),
        ((0.4, 0.3, 0.2, 0.1), 10, [4, 3, 2, 1, 0]),
        ((0.4, 0.3, 0.2, 0.1), 7, [3, 2, 1, 1, 0]),  # largest remainders .8 and .7 get the rest
        ((4, 3, 2, 1), 7, [3, 2, 1, 1, 0]),  # quotas are renormalised
    ],
)
def test_regime_quotas_honoured_exactly_in_every_batch(quotas, batch, want) -> None:
    regimes = torch.arange(400) % 4
    sampler = filled(RegimeAwareSampler(400, quotas), torch.rand(400, dtype=torch.float64), regimes)
    assert sampler.allocate(batch).tolist() == want
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        slots, _ = sampler.sample(batch, 400, 1.0, gen)
        got = torch.bincount(regimes[slots], minlength=4).tolist()
        assert got == want[:4]


def test_empty_regime_share_goes_to_the_others_in_proportion() -> None:
    regimes = torch.tensor([0, 2, 3] * 30)  # no downtrend (1) items
    sampler = filled(RegimeAwareSampler(90, (0.4, 0.3, 0.2, 0.1)), torch.ones(90), regimes)
    # q' = (0.4, 0, 0.2, 0.1) / 0.7 -> 51.43, 25.71, 12.86 of 90 -> 51, 26, 13
    assert sampler.allocate(90).tolist() == [51, 0, 26, 13, 0]
    slots, _ = sampler.sample(90, 90, 1.0, torch.Generator().manual_seed(0))
    assert torch.bincount(regimes[slots], minlength=4).tolist() == [51, 0, 26, 13]


def test_unknown_regime_is_a_pool_drawn_only_when_nothing_else_can_be() -> None:
    sampler = RegimeAwareSampler(20, (1.0, 0.0, 0.0, 0.0))
    sampler.on_add(torch.arange(4), torch.tensor([-1, -1, 2, 2]), start=0)
    # regime 0 (the only quota) is empty: the non-empty pools share the batch equally
    assert sampler.allocate(10).tolist() == [0, 0, 5, 0, 5]
    sampler.on_add(torch.arange(4, 6), torch.tensor([0, 7]), start=4)  # 7: out of range
    assert sampler.counts.tolist() == [1, 0, 2, 0, 3]
    assert sampler.allocate(10).tolist() == [10, 0, 0, 0, 0]


def test_sampled_priorities_are_updated() -> None:
    alpha, eps = 0.6, 0.01
    sampler = filled(PrioritizedSampler(50, alpha=alpha, eps=eps), torch.ones(50))
    slots, _ = sampler.sample(16, 50, 1.0, torch.Generator().manual_seed(3))
    slots = slots.unique()  # one TD per slot (duplicates: the last one wins, see sum tree)
    td = -torch.linspace(0.1, 5.0, slots.shape[0])  # the sign does not matter
    before = sampler.tree.get(torch.arange(50))
    sampler.update(slots, td)
    after = sampler.tree.get(torch.arange(50))
    want = (td.abs().double() + eps) ** alpha
    torch.testing.assert_close(after[slots], want)
    untouched = torch.ones(50, dtype=torch.bool).index_fill_(0, slots, False)
    assert torch.equal(after[untouched], before[untouched])
    torch.testing.assert_close(sampler.max_priority, want.max())
    # a new item gets the largest priority so far
    sampler.on_add(torch.tensor([0]), torch.tensor([0]), start=0)
    torch.testing.assert_close(sampler.tree.get(torch.tensor([0])), want.max().reshape(1))


def test_push_at_capacity_wraps_and_overwrites_priorities() -> None:
    sampler = filled(PrioritizedSampler(8, alpha=1.0, eps=0.0), torch.arange(1.0, 9.0))
    sampler.on_add(torch.tensor([6, 7, 0]), torch.zeros(3, dtype=torch.long), start=6)
    leaves = sampler.tree.get(torch.arange(8)).tolist()
    assert leaves == [8.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 8.0]
    assert sampler.tree.total().item() == sum(leaves) and sampler.tree.min().item() == 2.0


def test_regime_push_moves_overwritten_slots_between_pools() -> None:
    sampler = RegimeAwareSampler(4, (0.25, 0.25, 0.25, 0.25), alpha=1.0, eps=0.0)
    filled(sampler, torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0, 0, 1, 1]))
    sampler.on_add(torch.tensor([3, 0]), torch.tensor([0, 3]), start=3)  # wraps
    assert sampler.counts.tolist() == [2, 1, 0, 1, 0]
    assert sampler.pool_of.tolist() == [3, 0, 1, 0]
    assert sampler.tree.total().tolist() == [2.0 + 4.0, 3.0, 0.0, 4.0, 0.0]
    assert sampler.tree.min().tolist()[:4] == [2.0, 3.0, float("inf"), 4.0]


@pytest.mark.parametrize("kind", ["prioritized", "regime"])
def test_scattered_and_contiguous_adds_agree(kind: str) -> None:
    def make():
        if kind == "regime":
            return RegimeAwareSampler(10, (0.1, 0.2, 0.3, 0.4))
        return PrioritizedSampler(10)

    a, b = make(), make()
    gen = torch.Generator().manual_seed(0)
    start = 0
    for n in (4, 7, 3, 10, 5):
        regimes = torch.randint(-1, 4, (n,), generator=gen)
        slots = (torch.arange(n) + start) % 10
        a.on_add(slots, regimes, start=start)
        b.on_add(slots, regimes)
        td = torch.rand(n, generator=gen)
        a.update(slots, td)
        b.update(slots, td)
        start = (start + n) % 10
    assert torch.equal(a.tree.sums[-1], b.tree.sums[-1])
    assert all(torch.equal(x, y) for x, y in zip(a.tree.mins, b.tree.mins, strict=True))
    if kind == "regime":
        assert torch.equal(a.counts, b.counts) and torch.equal(a.pool_of, b.pool_of)


def test_uniform_sampler_has_unit_weights_and_no_priorities() -> None:
    sampler = UniformSampler()
    gen = torch.Generator().manual_seed(0)
    slots, weights = sampler.sample(100, 7, 0.4, gen)
    assert slots.min() >= 0 and slots.max() < 7 and torch.equal(weights, torch.ones(100))
    sampler.update(slots, torch.rand(100))  # no-op
    assert sampler.state_dict() == {}


def test_beta_schedule_anneals_linearly_and_saturates() -> None:
    assert beta_schedule(0, 1000, 0.4, 1.0) == 0.4
    assert beta_schedule(250, 1000, 0.4, 1.0) == pytest.approx(0.55)
    assert beta_schedule(1000, 1000, 0.4, 1.0) == 1.0
    assert beta_schedule(5000, 1000, 0.4, 1.0) == 1.0
    assert beta_schedule(-5, 1000, 0.4, 1.0) == 0.4


def test_bad_quotas_are_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="4 non-negative numbers"):
        RegimeAwareSampler(10, (0.5, 0.5))
    with pytest.raises(ValueError, match="positive sum"):
        RegimeAwareSampler(10, (0, 0, 0, 0))
