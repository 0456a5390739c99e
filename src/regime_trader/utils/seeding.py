"""One seeding path: library code takes generators derived from one seed (global RNGs are
seeded only inside `utils.threads.seeded`, which restores them)."""

from __future__ import annotations

import numpy as np
import torch


def make_generators(seed: int, device: torch.device) -> tuple[np.random.Generator, torch.Generator]:
    """Independent NumPy and torch generators derived from one seed."""
    ss = np.random.SeedSequence(seed)
    np_seed, torch_seed = ss.spawn(2)
    rng = np.random.default_rng(np_seed)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(torch_seed.generate_state(1, dtype=np.uint64)[0] % (2**63 - 1)))
    return rng, gen
