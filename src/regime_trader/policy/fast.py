"""A NumPy forward of the baseline MLP for one window at every position state (live decisions).

`score_windows` (the one torch scorer) repeats a ``[1, W, F]`` window once per position state
and runs the network on ``[P, W*F + 1]``: at batch 1 most of its time is torch's per-call
overhead (about 3 us an operation, a dozen of them) rather than arithmetic. For an `MLPQNet`
the first layer splits into the window's part, computed once, ``W0[:, :W*F] @ x``, plus the
position column ``W0[:, W*F] * p`` per state; the hidden layers then run at batch ``P`` in
NumPy on views of the torch weights (nothing copied, so an in-place weight update is seen;
weights replaced by new tensors make `scorer_for` build a new scorer).

The result is the same float32 arithmetic up to the order of the sums (measured within 1e-7
of `score_windows`, as torch itself is between batch sizes: `tests/serve/test_speed_parity.py`
holds the Q-values within 1e-5 and the actions equal). Callers still walk the path with
`walk_policy`; only the scoring of one window is replaced, and only for a plain `MLPQNet` on
the CPU in float32 (`scorer_for` returns None for anything else, which goes through
`score_windows`).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import torch
from torch import nn

from regime_trader.nets.mlp import MLPQNet

__all__ = ["MLPWindowScorer", "scorer_for"]


class MLPWindowScorer:
    """``Q[1, P, A]`` of one scaled window ``[W, F]`` at each of ``positions``."""

    def __init__(self, net: MLPQNet, positions: tuple[float, ...]) -> None:
        layers = [m for m in net.body if isinstance(m, nn.Linear)]
        self.params = [p for m in layers for p in (m.weight, m.bias)]
        self._ptrs = [p.data_ptr() for p in self.params]
        self.w = [m.weight.detach().numpy() for m in layers]  # views: [H_out, H_in]
        self.b = [m.bias.detach().numpy() for m in layers]
        self.n_window = layers[0].in_features - net.state_dim
        self.w_win = self.w[0][:, : self.n_window]  # [H, W*F] (a strided view)
        self.w_pos = self.w[0][:, self.n_window]  # [H] the position column
        self.positions = np.asarray(positions, np.float32)[None, :]  # [1, P]

    @staticmethod
    def supports(net: nn.Module) -> bool:
        """A plain `MLPQNet` (``Linear, ReLU, ..., Linear``), one state input, CPU float32."""
        if type(net) is not MLPQNet or net.state_dim != 1:
            return False
        mods = list(net.body)
        shape_ok = len(mods) % 2 == 1 and all(
            isinstance(m, nn.Linear) if i % 2 == 0 else type(m) is nn.ReLU
            for i, m in enumerate(mods)
        )
        cpu32 = all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters())
        return shape_ok and cpu32

    def current(self) -> bool:
        """Whether the views still show the net's weights (not replaced by ``.to()``, an
        assigning ``load_state_dict``, ...; an in-place update is seen by the views)."""
        return [p.data_ptr() for p in self.params] == self._ptrs  # new tensors: new memory

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """``[1, P, A]`` float32 Q-values of ``window`` ``[W, F]`` (float32).

        Activations are kept as columns ``[H, P]``: ``W @ h`` is NumPy's fastest small
        product here (a GEMV for the window, then GEMMs with ``P`` columns)."""
        x = np.ascontiguousarray(window, dtype=np.float32).reshape(-1)
        h = (self.w_win @ x)[:, None] + self.w_pos[:, None] * self.positions  # [H, P]
        h += self.b[0][:, None]
        for w, b in zip(self.w[1:], self.b[1:], strict=True):
            np.maximum(h, 0.0, out=h)
            h = w @ h
            h += b[:, None]
        return h.T[None]


_CACHE: weakref.WeakKeyDictionary[nn.Module, dict[tuple[float, ...], MLPWindowScorer | None]]
_CACHE = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def scorer_for(net: nn.Module, positions: tuple[float, ...]) -> MLPWindowScorer | None:
    """The NumPy scorer of ``net`` at ``positions`` (built once per net), or None when the
    net is not one it handles (then score with `score_windows`)."""
    with _CACHE_LOCK:
        per_net = _CACHE.setdefault(net, {})
        cached = per_net.get(positions)
        if cached is not None and not cached.current():
            del per_net[positions]  # the weights were replaced: look again
        if positions not in per_net:
            per_net[positions] = (
                MLPWindowScorer(net, positions)  # type: ignore[arg-type]
                if MLPWindowScorer.supports(net)
                else None
            )
        return per_net[positions]
