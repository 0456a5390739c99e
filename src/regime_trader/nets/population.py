"""Many MLP Q-networks in one set of tensors, and a committee that averages members' Q-values.

`StackedMLP` holds ``M`` independent `MLPQNet` s (same sizes, own weights) as one flat
parameter ``theta [M, P]``: row ``m`` is member ``m``'s parameters in `MLPQNet`'s own order
(``body.0.weight``, ``body.0.bias``, ``body.2.weight``, ...), each flattened row-major. A
forward pass is one batched matmul per layer for all members (``[M, N, I] -> [M, N, A]``);
one Adam step and one target update cover every member with one call each, and a member's
weights are a slice (`member_state_dict`). A member's forward equals its `MLPQNet` bit for
bit on a CPU (the same gemm per member slice; `tests/training/test_population.py`).

`Committee(nets)` is a policy over several trained nets: its forward returns the mean of
the members' Q-values (and, for nets with a regime detector, the log of their mean regime
probabilities as logits), so backtests, calibration and packages take it like any net.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from regime_trader.nets.mlp import MLPQNet

Shape = tuple[int, ...]


def mlp_shapes(window: int, n_features: int, state_dim: int, hidden: Sequence[int],
               n_actions: int) -> list[tuple[Shape, Shape]]:  # fmt: skip
    """``(weight, bias)`` shapes of `MLPQNet`'s layers, input to output (``weight [O, I]``)."""
    widths = [window * n_features + state_dim, *hidden, n_actions]
    return [((o, i), (o,)) for i, o in zip(widths[:-1], widths[1:], strict=True)]


class StackedMLP(nn.Module):
    """``M`` `MLPQNet` s evaluated together: ``[M, N, W, F], [M, N, S] -> [M, N, A]``.

    A window and state without the member axis (``[N, W, F]``, ``[N, S]``) are given to every
    member. Arguments as `MLPQNet`, plus ``members``; initialisation is `MLPQNet`'s per
    member (use `from_nets` to stack nets built under each member's seed).
    """

    def __init__(
        self,
        members: int,
        window: int,
        n_features: int,
        state_dim: int = 1,
        hidden: Sequence[int] = (128, 128),
        n_actions: int = 3,
    ) -> None:
        super().__init__()
        self.members, self.window, self.n_features = members, window, n_features
        self.state_dim, self.hidden, self.n_actions = state_dim, tuple(hidden), n_actions
        self.shapes = mlp_shapes(window, n_features, state_dim, self.hidden, n_actions)
        size = sum(math.prod(w) + math.prod(b) for w, b in self.shapes)
        self.theta = nn.Parameter(torch.empty(members, size))
        with torch.no_grad():  # nn.Linear's initialisation, member by member
            for w, b in self.layers():
                for m in range(members):
                    nn.init.kaiming_uniform_(w[m], a=math.sqrt(5))
                b.uniform_(-1.0 / math.sqrt(w.shape[-1]), 1.0 / math.sqrt(w.shape[-1]))

    @classmethod
    def from_nets(cls, nets: Sequence[nn.Module]) -> StackedMLP:
        """Stack trained or freshly built `MLPQNet` s of one size (weights are copied).

        Raises:
            ValueError: a net is not a plain `MLPQNet`, or the sizes differ.
        """
        sizes = {mlp_signature(n) for n in nets}
        if not nets or None in sizes or len(sizes) != 1:
            raise ValueError("StackedMLP.from_nets needs plain MLPQNets of one size")
        window, n_features, state_dim, hidden, n_actions = next(iter(sizes))  # type: ignore[misc]
        out = cls(len(nets), window, n_features, state_dim, hidden, n_actions)
        with torch.no_grad():
            rows = [torch.cat([p.detach().flatten() for p in n.parameters()]) for n in nets]
            out.theta.copy_(torch.stack(rows))
        return out.to(next(nets[0].parameters()).device)

    def layers(self, theta: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Views ``(weight [M, O, I], bias [M, O])`` of each layer into ``theta``."""
        theta = self.theta if theta is None else theta
        out, offset = [], 0
        for w_shape, b_shape in self.shapes:
            nw, nb = math.prod(w_shape), math.prod(b_shape)
            w = theta[:, offset : offset + nw].view(theta.shape[0], *w_shape)
            b = theta[:, offset + nw : offset + nw + nb]
            out.append((w, b))
            offset += nw + nb
        return out

    def param_views(self, theta: torch.Tensor | None = None) -> list[torch.Tensor]:
        """1-D views into ``theta`` (default `theta`, detached): one per member and parameter,
        member-major, each laid out as that `MLPQNet` parameter flattened. An optimiser or a
        ``torch._foreach_*`` call over them treats every member's tensors as ``train()``
        treats its net's (the same element-wise kernels over tensors of the same sizes), in
        one call for all members."""
        theta = (self.theta if theta is None else theta).detach()
        bounds, offset = [], 0
        for w_shape, b_shape in self.shapes:
            for n in (math.prod(w_shape), math.prod(b_shape)):
                bounds.append((offset, offset + n))
                offset += n
        return [theta[m, lo:hi] for m in range(theta.shape[0]) for lo, hi in bounds]

    def forward(self, window: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``[M, N, W, F], [M, N, S] -> [M, N, A]`` (or shared ``[N, W, F], [N, S]``)."""
        if window.dim() == 3:
            window, state = window.unsqueeze(0), state.unsqueeze(0)
        x = torch.cat([window.flatten(-2), state.to(window.dtype)], dim=-1)
        layers = self.layers()
        for i, (w, b) in enumerate(layers):
            x = torch.baddbmm(b.unsqueeze(1), x.expand(w.shape[0], -1, -1), w.transpose(1, 2))
            if i < len(layers) - 1:
                x = torch.relu(x)
        return x

    def member_state_dict(self, i: int) -> dict[str, torch.Tensor]:
        """Member ``i``'s weights under `MLPQNet`'s names (views; ``load_state_dict`` copies)."""
        out = {}
        for j, (w, b) in enumerate(self.layers()):
            out[f"body.{2 * j}.weight"], out[f"body.{2 * j}.bias"] = w[i], b[i]
        return out

    def member(self, i: int) -> MLPQNet:
        """Member ``i`` as a standalone `MLPQNet` (a copy; the global RNG is left as it was)."""
        with torch.random.fork_rng(devices=[]):  # MLPQNet's initialisation draws from it
            net = MLPQNet(self.window, self.n_features, self.state_dim, self.hidden,
                          self.n_actions)  # fmt: skip
        net.load_state_dict(self.member_state_dict(i))
        return net.to(self.theta.device)


def mlp_signature(net: nn.Module) -> tuple[int, int, int, tuple[int, ...], int] | None:
    """``(window, n_features, state_dim, hidden, n_actions)`` of a plain `MLPQNet`, else None.

    ``window * n_features`` is not recoverable from the weights, so the window is reported as
    the flattened width and ``n_features`` as 1 (the stacked forward flattens the same way).
    """
    if type(net) is not MLPQNet:
        return None
    lin = [m for m in net.modules() if isinstance(m, nn.Linear)]
    flat = lin[0].in_features - net.state_dim
    return flat, 1, net.state_dim, tuple(m.out_features for m in lin[:-1]), lin[-1].out_features


class Committee(nn.Module):
    """A policy over several nets: the mean of their Q-values (the same output contract as
    one net: ``q [B, A]``, or ``(q, regime_logits [B, K])`` when the members have a detector).

    Members with a regime detector contribute their regime probabilities: the committee's
    logits are ``log(mean_m softmax(logits_m))``, so ``softmax`` of them is the members' mean
    probability. Plain `MLPQNet` s of one size run as one `StackedMLP` forward; other nets
    run one after another.

    Args:
        nets: the members (at least one; all with a detector or all without).
    """

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        if not nets:
            raise ValueError("a committee needs at least one net")
        self.size = len(nets)
        signatures = {mlp_signature(n) for n in nets}
        stackable = len(signatures) == 1 and None not in signatures
        self.stacked = StackedMLP.from_nets(nets) if stackable else None
        self.nets = nn.ModuleList([] if stackable else nets)

    def forward(
        self, window: torch.Tensor, state: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``[B, W, F], [B, S] -> q [B, A]`` (members' mean), plus regime logits if they
        have a detector."""
        if self.stacked is not None:
            return self.stacked(window, state).mean(dim=0)
        outs = [net(window, state) for net in self.nets]
        with_logits = [isinstance(o, tuple) for o in outs]
        if any(with_logits) != all(with_logits):
            raise ValueError("committee members must all have a regime detector, or none")
        if not all(with_logits):
            return torch.stack(outs).mean(dim=0)
        q = torch.stack([o[0] for o in outs]).mean(dim=0)
        probs = torch.stack([o[1].softmax(dim=-1) for o in outs]).mean(dim=0)
        return q, probs.clamp_min(torch.finfo(probs.dtype).tiny).log()


def committee_q(
    nets: Sequence[nn.Module], window: torch.Tensor, state: torch.Tensor
) -> torch.Tensor:
    """Mean Q-values ``[B, A]`` of ``nets`` at ``(window [B, W, F], state [B, S])``."""
    out = Committee(nets)(window, state)
    return out[0] if isinstance(out, tuple) else out
