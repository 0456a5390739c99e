"""SumTree: totals, minima and prefix search against a NumPy cumsum + searchsorted reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from regime_trader.replay.sum_tree import SumTree


def reference_find(leaves: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    """Smallest i with cumsum(leaves)[i] > prefix."""
    return np.searchsorted(np.cumsum(leaves), prefix, side="right")


def check_against_reference(tree: SumTree, leaves: np.ndarray, rng: np.random.Generator) -> None:
    total = leaves.sum()
    assert tree.total().tolist() == [total]
    positive = leaves[leaves > 0]
    assert tree.min().item() == (positive.min() if positive.size else math.inf)
    if total > 0:
        prefix = rng.uniform(0, total, 200)
        prefix[:3] = [0.0, np.nextafter(total, 0), total]  # ends included (total is clamped)
        got = tree.find(torch.as_tensor(prefix)).numpy()
        want = np.minimum(reference_find(leaves, prefix), np.flatnonzero(leaves)[-1])
        np.testing.assert_array_equal(got, want)
        assert (leaves[got] > 0).all()  # never an empty leaf


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 300),
    fanout=st.sampled_from([2, 3, 4, 32]),
    seed=st.integers(0, 2**31 - 1),
    n_updates=st.integers(1, 5),
)
def test_total_min_and_find_match_cumsum_reference(capacity, fanout, seed, n_updates) -> None:
    # integer priorities: every partial sum is exact in float64, so comparisons are exact
    rng = np.random.default_rng(seed)
    tree = SumTree(capacity, fanout=fanout)
    leaves = np.zeros(capacity)
    for _ in range(n_updates):
        slots = rng.integers(0, capacity, rng.integers(1, 2 * capacity + 1))
        values = rng.integers(0, 50, slots.size).astype(np.float64)
        tree.update(torch.as_tensor(slots), torch.as_tensor(values))
        for s, v in zip(slots, values, strict=True):  # sequential writes: the last one wins
            leaves[s] = v
        np.testing.assert_array_equal(tree.sums[-1][:capacity].numpy(), leaves)
        check_against_reference(tree, leaves, rng)


@settings(max_examples=30, deadline=None)
@given(capacity=st.integers(1, 200), fanout=st.sampled_from([2, 5, 32]), seed=st.integers(0, 999))
def test_update_range_equals_scattered_update(capacity, fanout, seed) -> None:
    rng = np.random.default_rng(seed)
    ranged, scattered = SumTree(capacity, fanout=fanout), SumTree(capacity, fanout=fanout)
    for _ in range(4):
        lo = int(rng.integers(0, capacity))
        n = int(rng.integers(1, capacity - lo + 1))
        values = torch.as_tensor(rng.uniform(0, 2, n) * (rng.uniform(size=n) > 0.2))
        ranged.update_range(lo, values)
        scattered.update(torch.arange(lo, lo + n), values, unique=True)
        for a, b in zip(ranged.sums + ranged.mins, scattered.sums + scattered.mins, strict=True):
            assert torch.equal(a, b)


def test_duplicate_slots_last_write_wins() -> None:
    tree = SumTree(10, fanout=4)
    tree.update(torch.tensor([3, 5, 3, 3, 5]), torch.tensor([1.0, 2.0, 7.0, 4.0, 0.5]))
    assert tree.get(torch.tensor([3, 5])).tolist() == [4.0, 0.5]
    assert tree.total().item() == 4.5 and tree.min().item() == 0.5


def test_multiple_trees_are_independent() -> None:
    tree = SumTree(6, n_trees=3, fanout=2)
    trees, slots = torch.tensor([0, 1, 1, 2, 0]), torch.tensor([0, 0, 5, 5, 2])
    tree.update(slots, torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), trees)
    assert tree.total().tolist() == [6.0, 5.0, 4.0]
    assert tree.min().tolist() == [1.0, 2.0, 4.0]
    # each query searches its own tree
    got = tree.find(torch.tensor([0.5, 1.5, 1.5, 3.9]), torch.tensor([0, 0, 1, 2]))
    assert got.tolist() == [0, 2, 0, 5]
    # the same slot in two trees within one call: both writes land
    tree.update(torch.tensor([5, 5]), torch.tensor([0.0, 9.0]), torch.tensor([1, 2]))
    assert tree.total().tolist() == [6.0, 2.0, 9.0]
    assert tree.min().tolist() == [1.0, 2.0, 9.0]


def test_zero_empties_a_leaf_and_find_skips_it() -> None:
    tree = SumTree(4, fanout=2)
    tree.update(torch.arange(4), torch.tensor([1.0, 1.0, 1.0, 1.0]))
    tree.update(torch.tensor([1]), torch.tensor([0.0]))
    assert tree.min().item() == 1.0 and tree.total().item() == 3.0
    got = tree.find(torch.tensor([0.999, 1.0, 1.5, 2.9999]))
    assert got.tolist() == [0, 2, 2, 3]


def test_state_dict_round_trip_is_bit_identical() -> None:
    tree = SumTree(100, fanout=3)
    tree.update(torch.arange(0, 100, 3), torch.linspace(0.1, 5.0, 34, dtype=torch.float64))
    other = SumTree(100, fanout=3)
    other.load_state_dict(tree.state_dict())
    for a, b in zip(tree.sums + tree.mins, other.sums + other.mins, strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="does not match"):
        SumTree(50, fanout=3).load_state_dict(tree.state_dict())


def test_layout_stays_within_twice_the_capacity() -> None:
    tree = SumTree(32**4 + 1, fanout=32)  # one past a power: the top level takes 2 nodes
    assert tree.depth == 5 and tree.top == 2
    assert tree.n_leaves == 2 * 32**4
    assert SumTree(1_000_000).depth == 4
    with pytest.raises(ValueError, match="capacity"):
        SumTree(0)
