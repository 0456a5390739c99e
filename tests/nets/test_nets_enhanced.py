"""EnhancedDQN specifics: dueling streams, regime logits, causality, shape errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from regime_trader.nets.enhanced_dqn import EnhancedDQN

SMALL: dict[str, Any] = {
    "d_model": 8,
    "heads": 2,
    "lstm_hidden": 8,
    "head_hidden": 8,
    "lstm_steps": 6,
}


def _net(**kw: object) -> EnhancedDQN:
    torch.manual_seed(0)
    return EnhancedDQN(6, 3, 2, **{**SMALL, **kw})


def test_dueling_advantage_has_zero_mean() -> None:
    net = _net()
    s = net.streams(torch.randn(5, 6, 3), torch.randn(5, 2))
    centred = s.q - s.value
    torch.testing.assert_close(centred.mean(dim=1), torch.zeros(5))
    torch.testing.assert_close(centred, s.advantage - s.advantage.mean(dim=1, keepdim=True))
    assert not torch.allclose(s.advantage.mean(dim=1), torch.zeros(5))  # raw stream is not centred


def test_forward_returns_last_bar_regime_logits() -> None:
    net = _net()
    window, state = torch.randn(4, 6, 3), torch.randn(4, 2)
    q, logits = net(window, state)
    s = net.streams(window, state)
    assert s.regime_logits.shape == (4, 6, 4)
    torch.testing.assert_close(logits, s.regime_logits[:, -1])
    torch.testing.assert_close(q, s.q)


def test_state_changes_q() -> None:
    net = _net()
    window = torch.randn(3, 6, 3)
    q0, _ = net(window, torch.zeros(3, 2))
    q1, _ = net(window, torch.ones(3, 2))
    assert not torch.allclose(q0, q1)


def test_causal_regime_logits_ignore_later_bars() -> None:
    net = _net(causal=True).eval()
    window, state = torch.randn(2, 6, 3), torch.randn(2, 2)
    moved = window.clone()
    moved[:, 3:] += torch.randn(2, 3, 3)
    a = net.streams(window, state).regime_logits
    b = net.streams(moved, state).regime_logits
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_wrong_shapes_raise_clear_errors() -> None:
    net = _net()
    with pytest.raises(ValueError, match=r"window must be \[B, 6, 3\]"):
        net(torch.randn(2, 5, 3), torch.randn(2, 2))
    with pytest.raises(ValueError, match=r"state must be \[2, 2\]"):
        net(torch.randn(2, 6, 3), torch.randn(2, 1))
