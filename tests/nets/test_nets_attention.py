"""TemporalAttentionLayer: shapes, reference maths, causality, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from regime_trader.nets.attention import TemporalAttentionLayer


@pytest.mark.parametrize(("b", "w"), [(1, 7), (4, 7), (3, 1)])
@pytest.mark.parametrize("causal", [False, True])
def test_shape_is_preserved(b: int, w: int, causal: bool) -> None:
    layer = TemporalAttentionLayer(8, heads=2, causal=causal)
    assert layer(torch.randn(b, w, 8)).shape == (b, w, 8)


def test_matches_reference_single_head() -> None:
    torch.manual_seed(0)
    layer = TemporalAttentionLayer(6, heads=1)
    x = torch.randn(2, 5, 6)
    q, k, v = layer.qkv(x).chunk(3, dim=-1)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(6), dim=-1)
    expected = layer.norm(x + layer.out(weights @ v))
    torch.testing.assert_close(layer(x), expected)


def _perturb_after(x: torch.Tensor, t: int) -> torch.Tensor:
    y = x.clone()
    y[:, t + 1 :] += torch.randn_like(y[:, t + 1 :])
    return y


def test_causal_output_ignores_the_future() -> None:
    torch.manual_seed(1)
    layer = TemporalAttentionLayer(8, heads=4, causal=True).eval()
    x = torch.randn(3, 9, 8)
    base = layer(x)
    for t in range(8):
        moved = layer(_perturb_after(x, t))
        torch.testing.assert_close(moved[:, : t + 1], base[:, : t + 1])
        assert not torch.allclose(moved[:, t + 1 :], base[:, t + 1 :])


def test_non_causal_output_sees_the_future() -> None:
    torch.manual_seed(2)
    layer = TemporalAttentionLayer(8, heads=2, causal=False).eval()
    x = torch.randn(2, 6, 8)
    assert not torch.allclose(layer(_perturb_after(x, 2))[:, :3], layer(x)[:, :3])


def test_gradients_reach_every_parameter_and_input_is_untouched() -> None:
    layer = TemporalAttentionLayer(8, heads=2, causal=True)
    x = torch.randn(2, 5, 8)
    before = x.clone()
    (layer(x) * torch.randn(2, 5, 8)).sum().backward()
    assert torch.equal(x, before)
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="divide"):
        TemporalAttentionLayer(10, heads=3)
    with pytest.raises(ValueError, match="dropout"):
        TemporalAttentionLayer(8, dropout=1.0)
    with pytest.raises(ValueError, match=r"\[B, W, 8\]"):
        TemporalAttentionLayer(8)(torch.randn(4, 8))
