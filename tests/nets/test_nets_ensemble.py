"""EnsembleTrader: gate weights and the three combination modes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from regime_trader.nets.ensemble import EnsembleTrader

SMALL: dict[str, Any] = {"d_model": 8, "heads": 2, "lstm_hidden": 8, "head_hidden": 8}


@pytest.fixture()
def net() -> EnsembleTrader:
    torch.manual_seed(0)
    return EnsembleTrader(5, 3, 1, gate_hidden=(8,), **SMALL).eval()


@pytest.fixture()
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 5, 3, generator=g) * 3, torch.randn(16, 1, generator=g)


def test_weights_are_probabilities(net: EnsembleTrader, inputs) -> None:
    p = net.weights(*inputs)
    assert p.shape == (16, 4)
    assert (p >= 0).all()
    torch.testing.assert_close(p.sum(dim=1), torch.ones(16))
    _, logits = net(*inputs)
    torch.testing.assert_close(logits.softmax(-1), p)


def test_weighted_mode_mixes_specialists(net: EnsembleTrader, inputs) -> None:
    q, _ = net(*inputs)
    expected = (net.weights(*inputs).unsqueeze(-1) * net.specialist_q(*inputs)).sum(1)
    torch.testing.assert_close(q, expected)


def test_switching_mode_uses_the_most_likely_regime(net: EnsembleTrader, inputs) -> None:
    net.mode = "switching"
    q, _ = net(*inputs)
    pick = net.weights(*inputs).argmax(-1)
    qs = net.specialist_q(*inputs)
    assert torch.equal(q, qs[torch.arange(16), pick])


def test_switching_gate_learns_through_q(net: EnsembleTrader, inputs) -> None:
    net.mode = "switching"
    q, _ = net(*inputs)
    ((q - 1.0) ** 2).mean().backward()  # no loss on the logits: only the straight-through path
    grads = [p.grad for p in net.gate.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_voting_mode_returns_vote_shares(net: EnsembleTrader, inputs) -> None:
    net.mode = "voting"
    votes, _ = net(*inputs)
    p = net.weights(*inputs)
    greedy = net.specialist_q(*inputs).argmax(-1)  # [B, K]
    torch.testing.assert_close(votes.sum(1), torch.ones(16))
    for a in range(3):
        torch.testing.assert_close(votes[:, a], (p * (greedy == a)).sum(1))


def test_mode_is_validated(net: EnsembleTrader) -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        net.mode = "average"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="mode must be one of"):
        EnsembleTrader(5, 3, mode="average")  # type: ignore[arg-type]
