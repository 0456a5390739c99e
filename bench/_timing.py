"""Wall-clock timing shared by the benchmarks: per-call times after untimed warm-up calls."""

from __future__ import annotations

import time
from collections.abc import Callable


def call_times(
    fn: Callable[[], object],
    iters: int,
    *,
    warmup: int = 0,
    sync: Callable[[], None] = lambda: None,
) -> list[float]:
    """Seconds of each of ``iters`` calls of ``fn`` after ``warmup`` untimed ones; ``sync``
    (e.g. `torch.cuda.synchronize`) runs before each clock read so queued GPU work counts."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times
