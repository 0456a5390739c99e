"""Contracts every Q-network keeps: shapes, gradients, safetensors round trip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from regime_trader.agents.dqn import split_output
from regime_trader.nets.enhanced_dqn import EnhancedDQN
from regime_trader.nets.ensemble import EnsembleTrader
from regime_trader.nets.mlp import MLPQNet

F_, S_ = 3, 1  # features per bar, agent-state size
SMALL: dict[str, Any] = {"d_model": 8, "heads": 2, "lstm_hidden": 8, "head_hidden": 8}

FACTORIES: dict[str, Callable[[int], nn.Module]] = {
    "mlp": lambda w: MLPQNet(w, F_, S_, (16,)),
    "enhanced": lambda w: EnhancedDQN(w, F_, S_, **SMALL),
    "enhanced_causal": lambda w: EnhancedDQN(w, F_, S_, causal=True, **SMALL),
    "ensemble_weighted": lambda w: EnsembleTrader(w, F_, S_, "weighted", gate_hidden=(8,), **SMALL),
    "ensemble_switching": lambda w: EnsembleTrader(
        w, F_, S_, "switching", gate_hidden=(8,), **SMALL
    ),
    "ensemble_voting": lambda w: EnsembleTrader(w, F_, S_, "voting", gate_hidden=(8,), **SMALL),
}
REGIME_NETS = [k for k in FACTORIES if k != "mlp"]


def _inputs(b: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, w, F_, generator=g), torch.randn(b, S_, generator=g)


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize(("b", "w"), [(1, 5), (4, 5), (3, 1)])
def test_output_shapes(name: str, b: int, w: int) -> None:
    q, logits = split_output(FACTORIES[name](w)(*_inputs(b, w)))
    assert q.shape == (b, 3)
    assert torch.isfinite(q).all()
    if name != "mlp":
        assert logits is not None and logits.shape == (b, 4)


@pytest.mark.parametrize("name", ["mlp", "enhanced", "enhanced_causal", "ensemble_weighted"])
def test_gradients_reach_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    net = FACTORIES[name](5)
    q, logits = split_output(net(*_inputs(6, 5)))
    loss = ((q - torch.randn_like(q)) ** 2).mean()
    if logits is not None:
        loss = loss + nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3, 0, 1]))
    loss.backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", list(FACTORIES))
def test_safetensors_round_trip_gives_identical_q(name: str, tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = FACTORIES[name](5).eval()
    path = tmp_path / "model.safetensors"
    save_file(net.state_dict(), str(path))
    torch.manual_seed(2)  # a differently initialised copy
    clone = FACTORIES[name](5).eval()
    clone.load_state_dict(load_file(str(path)))
    x = _inputs(4, 5, seed=3)
    with torch.no_grad():
        a, b = split_output(net(*x)), split_output(clone(*x))
    assert torch.equal(a[0], b[0])
    if a[1] is not None:
        assert b[1] is not None and torch.equal(a[1], b[1])


@pytest.mark.parametrize("name", REGIME_NETS)
def test_inputs_are_not_modified(name: str) -> None:
    window, state = _inputs(2, 5)
    w0, s0 = window.clone(), state.clone()
    FACTORIES[name](5)(window, state)
    assert torch.equal(window, w0) and torch.equal(state, s0)
