"""`train` runs under `train.threads` torch and BLAS threads and leaves no global state behind."""

from __future__ import annotations

import random

import numpy as np
import torch
from threadpoolctl import threadpool_info

from regime_trader.config import Config
from regime_trader.training import train
from regime_trader.utils.threads import compute_threads, seeded


def _blas_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info()}


def _cfg(threads: int) -> Config:
    return Config().override(
        train={"total_steps": 600, "eval_every": 300, "n_envs": 4, "threads": threads},
        agent={"learning_starts": 100, "batch_size": 16, "train_freq": 4},
        tracking={"backend": "none"},
    )


def test_thread_limit_is_in_force_inside_train_and_restored_after(tmp_path) -> None:
    torch.set_num_threads(2)
    before_blas = _blas_threads()
    seen: list[tuple[int, set[int]]] = []
    train(_cfg(1), tmp_path / "run", progress=False,
          on_eval=lambda step, rec: seen.append((torch.get_num_threads(), _blas_threads())))  # fmt: skip
    assert seen and all(t == 1 and blas == {1} for t, blas in seen)
    assert torch.get_num_threads() == 2
    assert _blas_threads() == before_blas


def test_train_leaves_the_global_rngs_as_it_found_them(tmp_path) -> None:
    random.seed(5)
    np.random.seed(5)  # noqa: NPY002
    torch.manual_seed(5)
    expected = (random.random(), np.random.random(), torch.rand(1))  # noqa: NPY002
    random.seed(5)
    np.random.seed(5)  # noqa: NPY002
    torch.manual_seed(5)
    train(_cfg(1), tmp_path / "run", progress=False)
    got = (random.random(), np.random.random(), torch.rand(1))  # noqa: NPY002
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])


def test_seeded_block_is_reproducible_and_restores_the_caller_stream() -> None:
    torch.manual_seed(0)
    with seeded(3):
        a = torch.randn(3)
    after = torch.randn(3)
    torch.manual_seed(0)
    with seeded(3):
        b = torch.randn(3)
    torch.manual_seed(0)
    assert torch.equal(a, b) and torch.equal(after, torch.randn(3))


def test_zero_threads_changes_nothing() -> None:
    torch.set_num_threads(2)
    with compute_threads(0):
        assert torch.get_num_threads() == 2
