"""UptrendCalibrator: a proper distribution, monotone in the uptrend probability, pure."""

from __future__ import annotations

import pytest
import torch

from regime_trader.nets.calibration import UptrendCalibrator


def _probs(p_up: torch.Tensor) -> torch.Tensor:
    rest = ((1 - p_up) / 3).unsqueeze(1).expand(-1, 3)
    return torch.cat([p_up.unsqueeze(1), rest], dim=1)


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_rows_are_distributions_and_inputs_unchanged(threshold: float) -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(64, 3, generator=g) * 5
    regimes = torch.rand(64, 4, generator=g).softmax(-1)
    q0, r0 = q.clone(), regimes.clone()
    probs = UptrendCalibrator(boost=2.0, threshold=threshold)(q, regimes)
    assert torch.equal(q, q0) and torch.equal(regimes, r0)
    assert probs.shape == (64, 3)
    assert ((probs >= 0) & (probs <= 1)).all()
    torch.testing.assert_close(probs.sum(1), torch.ones(64))


@pytest.mark.parametrize("threshold", [0.0, 0.3])
def test_buy_probability_rises_with_uptrend_probability(threshold: float) -> None:
    g = torch.Generator().manual_seed(1)
    cal = UptrendCalibrator(boost=1.5, threshold=threshold)
    p_up = torch.linspace(0, 1, 41, dtype=torch.float64)
    for _ in range(20):
        q = (torch.randn(1, 3, generator=g, dtype=torch.float64) * 3).expand(41, -1)
        buy = cal(q, _probs(p_up))[:, 2]
        assert (buy.diff() >= 0).all()
        assert buy[-1] > buy[0]
        flat = p_up <= threshold
        torch.testing.assert_close(buy[flat], torch.softmax(q[flat], 1)[:, 2])


def test_known_value_and_zero_boost_is_plain_softmax() -> None:
    q = torch.tensor([[0.0, 0.0, 0.0]])
    up = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    e = torch.e
    torch.testing.assert_close(
        UptrendCalibrator(boost=1.0, threshold=0.0)(q, up),
        torch.tensor([[1 / (2 + e), 1 / (2 + e), e / (2 + e)]]),
    )
    q = torch.randn(8, 3)
    torch.testing.assert_close(
        UptrendCalibrator(boost=0.0, temperature=2.0)(q, _probs(torch.rand(8))),
        torch.softmax(q / 2.0, 1),
    )


def test_settings_round_trip_and_validation() -> None:
    cal = UptrendCalibrator(boost=0.7, threshold=0.4, temperature=0.05)
    assert UptrendCalibrator.from_dict(cal.to_dict()).to_dict() == cal.to_dict()
    for bad in ({"boost": -1.0}, {"threshold": 1.0}, {"temperature": 0.0}):
        with pytest.raises(ValueError):
            UptrendCalibrator(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch sizes differ"):
        cal(torch.zeros(2, 3), torch.zeros(3, 4))
