"""The baseline MLP's double-DQN gradients on a CPU, in NumPy on views of the torch tensors.

Same loss and gradients as `agents/mlp_grad.py` (the torch version, used on CUDA), written
for the CPU, where a 32-sample update is a few dozen tiny operations and per-call overhead is
most of their cost. Measured on the 2-core AMD EPYC these docs are written on
(`bench/update.py`): NumPy's OpenBLAS runs the update's [32, 391] x [391, 64] product about
1.5x faster than torch's MKL sgemm does on that CPU, a small NumPy call costs about 1 us
against torch's 3 us, and a whole update takes about 30 % less time than with the torch
version. Nothing is copied: the weights, the ``.grad`` buffers and
the replay batch are NumPy views of the torch tensors' memory, and the gradients land in one
flat buffer (``.grad`` of each parameter is a view into it), so the global-norm clip is one
dot product. Adam and the target update stay in torch (one fused call each).

`tests/agents/test_agent_mlp_grad.py` holds these gradients equal to autograd's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from regime_trader.agents.mlp_grad import linear_layers
from regime_trader.nets.mlp import MLPQNet
from regime_trader.types import Batch


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class _Layers:
    """NumPy views of one MLP's weights, plus a contiguous copy of the first layer transposed.

    OpenBLAS multiplies ``[B, W*F] @ [W*F, H]`` up to twice as fast with the right operand
    row-major as with the transposed view of the ``[H, W*F + S]`` weight, so `refresh` copies
    it (a few microseconds) before each update.
    """

    def __init__(self, net: nn.Module, n_window: int) -> None:
        lin = linear_layers(net)
        self.w = [_np(m.weight) for m in lin]
        self.b = [_np(m.bias) for m in lin]
        self.n_window = n_window
        self.w0_t = np.ascontiguousarray(self.w[0].T)  # [W*F + S, H1]

    def refresh(self) -> None:
        np.copyto(self.w0_t, self.w[0].T)

    def forward(self, x_win: np.ndarray, state: np.ndarray, acts: list[np.ndarray]) -> np.ndarray:
        """Write the activations of every layer into ``acts`` (ReLU on hidden layers)."""
        np.matmul(x_win, self.w0_t[: self.n_window], out=acts[0])
        acts[0] += state @ self.w0_t[self.n_window :]
        last = len(self.w) - 1
        for i in range(last + 1):
            if i:
                np.matmul(acts[i - 1], self.w[i].T, out=acts[i])
            acts[i] += self.b[i]
            if i < last:
                np.maximum(acts[i], 0.0, out=acts[i])
        return acts[last]


class NumpyMLPGradient:
    """Computes the TD loss and writes ``.grad`` of every online parameter (CPU only).

    Args:
        net: the online `MLPQNet` (on the CPU, float32).
        target: its target copy.
        gamma: discount factor.
        max_grad_norm: global L2 norm the gradients are clipped to (as
            `torch.nn.utils.clip_grad_norm_`); the caller must not clip again.
    """

    def __init__(self, net: MLPQNet, target: MLPQNet, gamma: float, max_grad_norm: float) -> None:
        self.gamma, self.max_norm = gamma, max_grad_norm
        params = list(net.parameters())
        self.flat_grad = torch.zeros(sum(p.numel() for p in params))
        offset = 0
        for p in params:  # each .grad is a view into one flat buffer
            p.grad = self.flat_grad[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        self._flat = self.flat_grad.numpy()
        lin = linear_layers(net)
        n_window = lin[0].in_features - net.state_dim
        self.online, self.target = _Layers(net, n_window), _Layers(target, n_window)
        self.grad_w = [_np(m.weight.grad) for m in lin]  # type: ignore[arg-type]
        self.grad_b = [_np(m.bias.grad) for m in lin]  # type: ignore[arg-type]
        self.widths = [m.out_features for m in lin]
        self._acts: dict[int, tuple[list[np.ndarray], ...]] = {}

    @staticmethod
    def supports(net: MLPQNet, device: torch.device) -> bool:
        """CPU float32 parameters (NumPy views need host memory)."""
        return device.type == "cpu" and all(p.dtype == torch.float32 for p in net.parameters())

    def _buffers(self, n: int) -> tuple[list[np.ndarray], ...]:
        """Activation buffers for a batch of ``n`` (online s, online s', target s')."""
        if n not in self._acts:
            self._acts[n] = tuple(
                [np.empty((n, h), np.float32) for h in self.widths] for _ in range(3)
            )
        return self._acts[n]

    def __call__(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and per-sample ``|TD error|``; clipped gradients are left in ``.grad``."""
        n = batch.action.shape[0]
        x, x_next = _np(batch.window.flatten(1)), _np(batch.next_window.flatten(1))
        s, s_next = _np(batch.state), _np(batch.next_state)
        acts, acts_next, acts_target = self._buffers(n)
        self.online.refresh()
        self.target.refresh()
        q = self.online.forward(x, s, acts)
        best = self.online.forward(x_next, s_next, acts_next).argmax(axis=1)
        rows = np.arange(n)
        next_q = self.target.forward(x_next, s_next, acts_target)[rows, best]
        action = _np(batch.action)
        diff = q[rows, action] - (_np(batch.reward) + self.gamma * (1.0 - _np(batch.done)) * next_q)
        abs_diff = np.abs(diff)
        clipped = np.minimum(abs_diff, 1.0)
        weights = _np(batch.weights)
        loss = np.dot(clipped * (abs_diff - 0.5 * clipped), weights) / n  # mean weighted Huber
        delta = np.zeros_like(q)
        delta[rows, action] = np.clip(diff, -1.0, 1.0) * weights / n
        self._backward(delta, x, s, acts)
        self._clip()
        return torch.from_numpy(np.array(loss, np.float32)), torch.from_numpy(abs_diff)

    def _backward(
        self, delta: np.ndarray, x: np.ndarray, s: np.ndarray, acts: list[np.ndarray]
    ) -> None:
        """Backpropagate ``dLoss/dQ`` through the online layers into the flat gradient."""
        for i in range(len(self.widths) - 1, -1, -1):
            self.grad_b[i][:] = delta.sum(axis=0)
            if i == 0:
                n_window = x.shape[1]
                np.matmul(delta.T, x, out=self.grad_w[0][:, :n_window])
                np.matmul(delta.T, s, out=self.grad_w[0][:, n_window:])
                return
            np.matmul(delta.T, acts[i - 1], out=self.grad_w[i])
            delta = delta @ self.online.w[i]
            delta[acts[i - 1] <= 0.0] = 0.0  # through the ReLU

    def _clip(self) -> None:
        """Scale to a global L2 norm of at most ``max_norm`` (``clip_grad_norm_``'s formula)."""
        norm = float(np.sqrt(np.dot(self._flat, self._flat)))
        coef = self.max_norm / (norm + 1e-6)
        if coef < 1.0:
            self._flat *= np.float32(coef)
