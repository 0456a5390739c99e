"""One seeding path. Library code takes generators; only entry points call `seed_everything`."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy's legacy global RNG and torch (CPU and CUDA) for third-party code."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - third-party code may use the legacy RNG
    torch.manual_seed(seed)


def make_generators(seed: int, device: torch.device) -> tuple[np.random.Generator, torch.Generator]:
    """Independent NumPy and torch generators derived from one seed."""
    ss = np.random.SeedSequence(seed)
    np_seed, torch_seed = ss.spawn(2)
    rng = np.random.default_rng(np_seed)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(torch_seed.generate_state(1, dtype=np.uint64)[0] % (2**63 - 1)))
    return rng, gen
