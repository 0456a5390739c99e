"""One place that turns a device request into a `torch.device`."""

from __future__ import annotations

import torch

from regime_trader.errors import ConfigError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return CUDA when asked for ``"auto"`` and available, else CPU.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device '{device}' requested but CUDA is not available; use 'cpu' or 'auto'"
        )
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device '{device}'; use 'auto', 'cpu' or 'cuda[:N]'") from exc
