"""The autouse fixture in conftest.py: a test that reseeds a global RNG does not leak it."""

from __future__ import annotations

import random

import numpy as np
import torch

_BEFORE: dict[str, object] = {}


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.random()), float(torch.rand(()))  # noqa: NPY002


def test_a_test_that_reseeds_every_global_rng() -> None:
    _BEFORE["state"] = (random.getstate(), np.random.get_state(), torch.get_rng_state())  # noqa: NPY002
    random.seed(123)
    np.random.seed(123)  # noqa: NPY002
    torch.manual_seed(123)
    _BEFORE["seeded"] = _draws()


def test_the_next_test_sees_the_states_from_before_it() -> None:
    py, np_state, torch_state = _BEFORE["state"]  # type: ignore[misc]
    assert random.getstate() == py
    now = np.random.get_state()  # noqa: NPY002
    assert now[0] == np_state[0] and np.array_equal(now[1], np_state[1]) and now[2:] == np_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert _draws() != _BEFORE["seeded"]
