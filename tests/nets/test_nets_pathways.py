"""MarketRegimePathways: per-bar regime mixture."""

from __future__ import annotations

import pytest
import torch

from regime_trader.nets.pathways import REGIME_NAMES, MarketRegimePathways


@pytest.mark.parametrize(("b", "w"), [(1, 6), (5, 6), (2, 1)])
def test_shapes(b: int, w: int) -> None:
    mixed, logits = MarketRegimePathways(8, hidden=16)(torch.randn(b, w, 8))
    assert mixed.shape == (b, w, 8)
    assert logits.shape == (b, w, len(REGIME_NAMES))


def test_output_is_probability_weighted_sum_per_bar() -> None:
    torch.manual_seed(0)
    mod = MarketRegimePathways(4, hidden=8)
    x = torch.randn(3, 5, 4)
    mixed, logits = mod(x)
    p = logits.softmax(-1)
    expected = sum(p[..., k : k + 1] * mod.pathways[k](x) for k in range(4))
    torch.testing.assert_close(mixed, expected)
    # Each bar is mixed by its own probabilities: bar 0 does not depend on bar 1.
    x2 = x.clone()
    x2[:, 1:] += 1.0
    torch.testing.assert_close(mod(x2)[0][:, 0], mixed[:, 0])


def test_gradients_reach_every_parameter() -> None:
    mod = MarketRegimePathways(4, hidden=8)
    mixed, logits = mod(torch.randn(3, 5, 4))
    labels = torch.randint(0, 4, (15,))
    loss = (mixed * torch.randn_like(mixed)).sum()
    loss = loss + torch.nn.functional.cross_entropy(logits.reshape(-1, 4), labels)
    loss.backward()
    for name, p in mod.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_rejects_wrong_width() -> None:
    with pytest.raises(ValueError, match=r"\[B, W, 4\]"):
        MarketRegimePathways(4)(torch.randn(2, 3, 5))
