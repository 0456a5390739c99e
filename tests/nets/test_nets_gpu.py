"""CPU/CUDA parity of the networks (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from regime_trader.nets.calibration import UptrendCalibrator
from regime_trader.nets.enhanced_dqn import EnhancedDQN
from regime_trader.nets.ensemble import EnsembleTrader

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.mark.parametrize(
    "make",
    [
        lambda: EnhancedDQN(30, 8),
        lambda: EnhancedDQN(30, 8, causal=True),
        lambda: EnsembleTrader(30, 8, mode="weighted"),
    ],
    ids=["enhanced", "enhanced_causal", "ensemble"],
)
def test_cpu_cuda_parity(make, monkeypatch: pytest.MonkeyPatch) -> None:
    # TF32 (on by default for cuDNN, e.g. the LSTM) would need a looser tolerance.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    cpu: nn.Module = make().eval()
    gpu = make().eval().cuda()
    gpu.load_state_dict(cpu.state_dict())
    window, state = torch.randn(64, 30, 8), torch.randn(64, 1)
    with torch.no_grad():
        q_cpu, l_cpu = cpu(window, state)
        q_gpu, l_gpu = gpu(window.cuda(), state.cuda())
    torch.testing.assert_close(q_gpu.cpu(), q_cpu, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(l_gpu.cpu(), l_cpu, rtol=1e-4, atol=1e-4)


def test_calibrator_parity() -> None:
    q, r = torch.randn(32, 3), torch.rand(32, 4).softmax(-1)
    cal = UptrendCalibrator(boost=1.0, threshold=0.2)
    torch.testing.assert_close(cal(q.cuda(), r.cuda()).cpu(), cal(q, r))
