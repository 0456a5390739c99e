"""The fused EnhancedDQN and EnsembleTrader equal the plain modules carrying the same weights.

`EnhancedDQN` runs its stages as grouped matmuls (nets/grouped.py) and passes only the last
``lstm_steps`` bars beyond attention. The reference here is the plan's pipeline built from
plain modules (`TemporalAttentionLayer`, `MarketRegimePathways`, ``nn.LSTM``, ``nn.Linear``)
over the WHOLE window, then cut to the last bars: outputs and gradients must agree.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regime_trader.nets.attention import TemporalAttentionLayer
from regime_trader.nets.enhanced_dqn import EnhancedDQN
from regime_trader.nets.ensemble import EnsembleTrader
from regime_trader.nets.pathways import MarketRegimePathways

W, F_, S, D, H, HP, HH, K = 7, 3, 1, 8, 2, 6, 5, 4


class Reference(nn.Module):
    """The plan's EnhancedDQN from plain modules, weights copied from a fused group ``g``."""

    def __init__(self, net: EnhancedDQN, layers: int) -> None:
        super().__init__()
        c = net.core
        self.steps = c.steps
        self.embed = _linear(c.embed.weight[0], c.embed.bias[0, 0])
        self.position = c.position[0, 0].detach().clone()
        self.attention = TemporalAttentionLayer(D, H, causal=c.causal)
        _copy(self.attention.qkv, c.qkv.weight[0], c.qkv.bias[0, 0])
        _copy(self.attention.out, c.attn_out.weight[0], c.attn_out.bias[0, 0])
        self.attention.norm.weight.data.copy_(c.norm.weight[0, 0])
        self.attention.norm.bias.data.copy_(c.norm.bias[0, 0])
        self.pathways = MarketRegimePathways(D, K, HP)
        w_in, b_in = c.path_in.weight[0], c.path_in.bias[0, 0]
        for k, path in enumerate(self.pathways.pathways):
            cols = slice(k * HP, (k + 1) * HP)
            _copy(path[0], w_in[:, cols], b_in[cols])
            _copy(path[2], c.path_w[0, k], c.path_b[0, k])
        _copy(self.pathways.detector[0], w_in[:, K * HP :], b_in[K * HP :])
        _copy(self.pathways.detector[2], c.detector_out.weight[0], c.detector_out.bias[0, 0])
        self.lstm = nn.LSTM(D, D, num_layers=layers, batch_first=True)
        for i in range(layers):
            for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
                src = getattr(c.lstm, name)[i][0]
                getattr(
                    self.lstm, f"{name.replace('w_', 'weight_').replace('b_', 'bias_')}_l{i}"
                ).data.copy_(src)
        wh, bh = c.head_in.weight[0], c.head_in.bias[0, 0]
        self.value = nn.Sequential(_linear(wh[:, :HH], bh[:HH]), nn.ReLU(),
                                   _linear(c.value_out.weight[0], c.value_out.bias[0, 0]))  # fmt: skip
        self.advantage = nn.Sequential(_linear(wh[:, HH:], bh[HH:]), nn.ReLU(),
                                       _linear(c.adv_out.weight[0], c.adv_out.bias[0, 0]))  # fmt: skip

    def forward(self, window: torch.Tensor, state: torch.Tensor):
        x = F.gelu(self.embed(window)) + self.position
        x, logits = self.pathways(self.attention(x))  # the whole window
        out, _ = self.lstm(x[:, -self.steps :])
        h = torch.cat([out[:, -1], state], dim=1)
        a = self.advantage(h)
        return self.value(h) + a - a.mean(dim=1, keepdim=True), logits[:, -self.steps :]


def _linear(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[0], weight.shape[1])
    _copy(layer, weight, bias)
    return layer


def _copy(layer: nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Grouped weights are stored ``[I, O]``; ``nn.Linear`` keeps ``[O, I]``."""
    layer.weight.data.copy_(weight.t())
    layer.bias.data.copy_(bias)


def _net(causal: bool, layers: int, steps: int) -> EnhancedDQN:
    torch.manual_seed(0)
    return EnhancedDQN(W, F_, S, d_model=D, heads=H, lstm_hidden=D, lstm_layers=layers,
                       pathway_hidden=HP, head_hidden=HH, lstm_steps=steps, causal=causal)  # fmt: skip


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("layers", "steps"), [(1, 3), (2, 3), (1, W)])
def test_fused_net_equals_plain_modules(causal: bool, layers: int, steps: int) -> None:
    net = _net(causal, layers, steps)
    ref = Reference(net, layers)
    g = torch.Generator().manual_seed(1)
    window = torch.randn(5, W, F_, generator=g)
    state = torch.randn(5, S, generator=g)
    w1, w2 = window.clone().requires_grad_(), window.clone().requires_grad_()
    fused = net.streams(w1, state)
    q_ref, logits_ref = ref(w2, state)
    torch.testing.assert_close(fused.q, q_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused.regime_logits, logits_ref, rtol=1e-5, atol=1e-6)
    (fused.q.square().sum() + fused.regime_logits.sum()).backward()
    (q_ref.square().sum() + logits_ref.sum()).backward()
    torch.testing.assert_close(w1.grad, w2.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        net.core.lstm.w_hh[0].grad[0], ref.lstm.weight_hh_l0.grad, rtol=1e-4, atol=1e-6
    )
    torch.testing.assert_close(
        net.core.path_w.grad[0, 2],
        ref.pathways.pathways[2][2].weight.grad.t(),
        rtol=1e-4,
        atol=1e-6,
    )


@pytest.mark.parametrize("layers", [1, 2])
def test_grouped_specialists_equal_separate_networks(layers: int) -> None:
    """The ensemble's four specialists (one grouped core, the per-step LSTM loop) equal four
    separate EnhancedDQNs (torch's LSTM kernel) holding each group's weights."""
    torch.manual_seed(0)
    sizes = {"d_model": D, "heads": H, "lstm_hidden": D, "lstm_layers": layers, "lstm_steps": 3}
    ens = EnsembleTrader(W, F_, S, gate_hidden=(8,), **sizes)
    window, state = torch.randn(4, W, F_), torch.randn(4, S)
    qs = ens.specialist_q(window, state)  # [B, K, A]
    for k in range(4):
        single = EnhancedDQN(W, F_, S, **sizes)
        single.core.load_state_dict(
            {n: p[k : k + 1] for n, p in ens.specialists.state_dict().items()}
        )
        torch.testing.assert_close(qs[:, k], single(window, state)[0], rtol=1e-5, atol=1e-6)
