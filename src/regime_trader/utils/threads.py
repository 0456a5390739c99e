"""Scoped compute settings: CPU threads (torch and the BLAS under NumPy) and seeded RNGs.

Library calls such as `train` use these as context managers, so nothing they set outlives
them: thread counts and the global RNG states are restored on exit, even on an exception.

Why BLAS threads matter: the CPU training path runs its small matrix products through NumPy
(agents/mlp_numpy.py), whose OpenBLAS starts as many threads as there are cores. On a 2-core
machine that also runs anything else, those threads spin against each other and the trainer
slows by an order of magnitude (measured in docs/benchmarks.md). `torch.set_num_threads`
does not reach that BLAS; threadpoolctl does.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import torch
from threadpoolctl import threadpool_limits

R = TypeVar("R")


@contextmanager
def compute_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads and ``n`` BLAS/OpenMP threads.

    ``n == 0`` leaves every library at its own default. The previous settings come back on
    exit.

    Args:
        n: threads; 0 means "do not change".

    Examples:
        >>> with compute_threads(1):
        ...     torch.get_num_threads()
        1
    """
    if n <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch, NumPy's legacy RNG and Python's ``random`` for the block, then restore them.

    Inside, third-party code that draws from a global RNG (torch's default initialisers of
    new layers, for one) is reproducible; outside, the caller's RNG streams continue as if
    the block had never run.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - saved to restore the caller's stream
    with torch.random.fork_rng(devices=_cuda_devices()):
        random.seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002 - third-party code may use the legacy RNG
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def scoped_compute(fn: Callable[..., R]) -> Callable[..., R]:
    """Decorate ``fn(cfg, ...)`` to run under ``cfg.train.threads`` threads and seeded with
    ``cfg.train.seed`` (`compute_threads` and `seeded`); both are undone when it returns."""

    @functools.wraps(fn)
    def wrapper(cfg: Any, *args: Any, **kwargs: Any) -> R:
        with compute_threads(cfg.train.threads), seeded(cfg.train.seed):
            return fn(cfg, *args, **kwargs)

    return wrapper
