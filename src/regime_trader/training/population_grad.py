"""Double-DQN gradients of a whole `StackedMLP` population in closed form, member axis first.

The same loss as `DQNAgent.loss` per member (weighted Huber TD error against the double-DQN
target, mean over the member's own batch), with every matrix product batched over the
members. The member losses are independent, so the gradient of their sum is each member's
own gradient: the flat gradient ``[M, P]`` has member ``m``'s gradient in row ``m``, in the
layout of ``StackedMLP.theta``, and the global-norm clip is per row.

* `StackedNumpyGradient` (CPU): `agents/mlp_numpy.NumpyMLPGradient` with a member axis, on
  NumPy views of the torch tensors. NumPy's stacked matmul runs the same gemm per member
  slice as the 2-D one, and every other step is element-wise or per row, so each member's
  gradient equals ``NumpyMLPGradient``'s bit for bit (a test trains both and compares).
* `StackedTorchGradient` (any device, used off the CPU): `agents/mlp_grad.MLPGradient` with
  ``bmm``; the clip is torch's ``clip_grad_norm_`` formula per member.
"""

from __future__ import annotations

import numpy as np
import torch

from regime_trader.nets.population import StackedMLP
from regime_trader.types import Batch


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class _StackedLayers:
    """NumPy views of every member's weights, plus a contiguous copy of the first layer
    transposed ``[M, I, H]`` (as `mlp_numpy._Layers`, refreshed before each update)."""

    def __init__(self, net: StackedMLP, n_window: int) -> None:
        layers = net.layers()
        self.w = [_np(w) for w, _ in layers]  # [M, O, I] views into theta
        self.b = [_np(b)[:, None, :] for _, b in layers]  # [M, 1, O]
        self.n_window = n_window
        self.w0_t = np.ascontiguousarray(self.w[0].transpose(0, 2, 1))

    def refresh(self) -> None:
        np.copyto(self.w0_t, self.w[0].transpose(0, 2, 1))

    def forward(self, x_win: np.ndarray, state: np.ndarray, acts: list[np.ndarray]) -> np.ndarray:
        """Activations of every layer into ``acts`` (``[M, B, O]`` each; ReLU on hidden)."""
        np.matmul(x_win, self.w0_t[:, : self.n_window], out=acts[0])
        acts[0] += state @ self.w0_t[:, self.n_window :]
        last = len(self.w) - 1
        for i in range(last + 1):
            if i:
                np.matmul(acts[i - 1], self.w[i].transpose(0, 2, 1), out=acts[i])
            acts[i] += self.b[i]
            if i < last:
                np.maximum(acts[i], 0.0, out=acts[i])
        return acts[last]


class StackedNumpyGradient:
    """TD loss of every member; writes the clipped gradients into ``flat_grad [M, P]``.

    Args:
        net: the online `StackedMLP` (CPU, float32).
        target: its target copy.
        gamma: discount factor.
        max_grad_norm: global L2 norm each member's gradient is clipped to.
    """

    def __init__(
        self, net: StackedMLP, target: StackedMLP, gamma: float, max_grad_norm: float
    ) -> None:
        self.gamma, self.max_norm = gamma, max_grad_norm
        self.flat_grad = torch.zeros_like(net.theta)  # net.theta.grad
        self._flat = self.flat_grad.numpy()
        n_window = net.shapes[0][0][1] - net.state_dim
        self.online, self.target = _StackedLayers(net, n_window), _StackedLayers(target, n_window)
        grads = net.layers(self.flat_grad)
        self.grad_w = [_np(w) for w, _ in grads]
        self.grad_b = [_np(b) for _, b in grads]
        self.widths = [w[0] for w, _ in net.shapes]
        self._acts: dict[tuple[int, int], tuple[list[np.ndarray], ...]] = {}
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _buffers(self, m: int, n: int) -> tuple[list[np.ndarray], ...]:
        if (m, n) not in self._acts:
            self._acts[m, n] = tuple(
                [np.empty((m, n, h), np.float32) for h in self.widths] for _ in range(3)
            )
        return self._acts[m, n]

    def __call__(self, batch: Batch) -> np.ndarray:
        """Gradients of one ``[M, B, ...]`` batch into ``flat_grad``; returns ``|TD| [M, B]``.
        The members' losses are computed on demand (`last_loss`)."""
        m, n = batch.action.shape
        x, x_next = _np(batch.window.flatten(2)), _np(batch.next_window.flatten(2))
        s, s_next = _np(batch.state), _np(batch.next_state)
        acts, acts_next, acts_target = self._buffers(m, n)
        self.online.refresh()
        self.target.refresh()
        q = self.online.forward(x, s, acts)
        best = self.online.forward(x_next, s_next, acts_next).argmax(axis=-1)[..., None]
        next_q = np.take_along_axis(self.target.forward(x_next, s_next, acts_target), best, -1)
        action = _np(batch.action)[..., None]
        q_a = np.take_along_axis(q, action, -1)[..., 0]
        y = _np(batch.reward) + self.gamma * (1.0 - _np(batch.done)) * next_q[..., 0]
        diff = q_a - y
        abs_diff = np.abs(diff)
        clipped = np.minimum(abs_diff, 1.0)
        weights = _np(batch.weights)
        self._last = (clipped, abs_diff, weights)
        delta = np.zeros_like(q)
        np.put_along_axis(delta, action, (np.clip(diff, -1.0, 1.0) * weights / n)[..., None], -1)
        self._backward(delta, x, s, acts)
        self._clip()
        return abs_diff

    def last_loss(self) -> np.ndarray:
        """Each member's mean weighted Huber loss of the last batch ``[M]`` (float32)."""
        if self._last is None:
            raise ValueError("no update yet")
        clipped, abs_diff, weights = self._last
        n = clipped.shape[1]
        huber = clipped * (abs_diff - 0.5 * clipped)
        return np.matmul(huber[:, None, :], weights[:, :, None])[:, 0, 0] / n

    def _backward(
        self, delta: np.ndarray, x: np.ndarray, s: np.ndarray, acts: list[np.ndarray]
    ) -> None:
        """Backpropagate ``dLoss/dQ [M, B, A]`` through every member's layers."""
        for i in range(len(self.widths) - 1, -1, -1):
            self.grad_b[i][:] = delta.sum(axis=1)
            delta_t = delta.transpose(0, 2, 1)
            if i == 0:
                nw = x.shape[2]
                np.matmul(delta_t, x, out=self.grad_w[0][:, :, :nw])
                np.matmul(delta_t, s, out=self.grad_w[0][:, :, nw:])
                return
            np.matmul(delta_t, acts[i - 1], out=self.grad_w[i])
            delta = delta @ self.online.w[i]
            delta[acts[i - 1] <= 0.0] = 0.0  # through the ReLU

    def _clip(self) -> None:
        """Scale each member's row to an L2 norm of at most ``max_norm`` (the per-row dot
        is `np.dot`'s, so the scale equals `NumpyMLPGradient._clip`'s)."""
        flat = self._flat
        norm = np.sqrt(np.matmul(flat[:, None, :], flat[:, :, None])[:, 0, 0])
        coef = self.max_norm / (norm.astype(np.float64) + 1e-6)
        flat *= np.where(coef < 1.0, coef, 1.0).astype(np.float32)[:, None]


class StackedTorchGradient:
    """`StackedNumpyGradient`'s computation in torch (``bmm``), for CUDA and other devices.

    Args as `StackedNumpyGradient`.
    """

    def __init__(
        self, net: StackedMLP, target: StackedMLP, gamma: float, max_grad_norm: float
    ) -> None:
        self.net, self.target, self.gamma, self.max_norm = net, target, gamma, max_grad_norm
        self.flat_grad = torch.zeros_like(net.theta)
        self._last: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @staticmethod
    def _forward(
        layers: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor
    ) -> list[torch.Tensor]:
        acts = [x]
        for i, (w, b) in enumerate(layers):
            x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            if i < len(layers) - 1:
                x = x.relu_()
            acts.append(x)
        return acts

    @torch.no_grad()
    def __call__(self, batch: Batch) -> torch.Tensor:
        """Gradients of one ``[M, B, ...]`` batch into ``flat_grad``; returns ``|TD| [M, B]``."""
        n = batch.action.shape[1]
        x = torch.cat(
            [
                torch.cat([batch.window, batch.next_window], dim=1).flatten(2),
                torch.cat([batch.state, batch.next_state], dim=1),
            ],
            dim=2,
        )  # [M, 2B, I]
        layers = self.net.layers()
        acts = self._forward(layers, x)
        best = acts[-1][:, n:].argmax(dim=-1, keepdim=True)
        next_q = self._forward(self.target.layers(), x[:, n:])[-1].gather(-1, best).squeeze(-1)
        y = torch.addcmul(batch.reward, 1.0 - batch.done, next_q, value=self.gamma)
        action = batch.action.unsqueeze(-1)
        diff = acts[-1][:, :n].gather(-1, action).squeeze(-1) - y
        abs_diff = diff.abs()
        clipped = abs_diff.clamp(max=1.0)
        self._last = (clipped, abs_diff, batch.weights)
        g = diff.clamp(-1.0, 1.0).mul_(batch.weights).div_(n).unsqueeze(-1)
        delta = torch.zeros_like(acts[-1][:, :n]).scatter_(-1, action, g)
        grads = self.net.layers(self.flat_grad)
        for i in range(len(layers) - 1, -1, -1):
            below = acts[i][:, :n]
            grads[i][0].copy_(torch.bmm(delta.transpose(1, 2), below))
            grads[i][1].copy_(delta.sum(dim=1))
            if i:
                delta = torch.ops.aten.threshold_backward(
                    torch.bmm(delta, layers[i][0]), below, 0.0
                )
        norm = torch.linalg.vector_norm(self.flat_grad, dim=1, keepdim=True)
        self.flat_grad.mul_((self.max_norm / (norm + 1e-6)).clamp(max=1.0))
        return abs_diff

    def last_loss(self) -> np.ndarray:
        """Each member's mean weighted Huber loss of the last batch ``[M]``."""
        if self._last is None:
            raise ValueError("no update yet")
        clipped, abs_diff, weights = self._last
        huber = clipped * (abs_diff - 0.5 * clipped)
        return ((huber * weights).sum(dim=1) / clipped.shape[1]).float().cpu().numpy()
