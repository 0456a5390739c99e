"""Stream sessions without HTTP: regime labels equal the batch ones, decisions equal the
backtest's (short positions, confidence sizing, the enhanced net), restarts rebuild."""

from __future__ import annotations

import numpy as np
import pytest
from _tiny import SIZED, bar_json, tiny_model

from regime_trader.config import RegimeConfig
from regime_trader.regimes import classify_regimes
from regime_trader.serve import ModelHolder, SessionManager
from regime_trader.serve.streaming import StreamingRegimes


@pytest.mark.parametrize(
    "cfg", [RegimeConfig(), RegimeConfig(window=5, vol_history=20, min_duration=3)]
)
def test_streaming_regimes_equal_batch_labels(ohlcv_factory, cfg) -> None:
    df = ohlcv_factory(1200, seed=3)
    stream = StreamingRegimes(cfg)
    got = np.array([stream.update(c) for c in df["close"]])
    np.testing.assert_array_equal(got, classify_regimes(df, cfg))


@pytest.mark.parametrize(
    ("net", "short", "rule"), [("mlp", True, SIZED), ("enhanced", False, SIZED)]
)
def test_session_decisions_equal_the_backtest(ohlcv_factory, net, short, rule) -> None:
    df = ohlcv_factory(200, seed=2)
    model = tiny_model(df, net=net, allow_short=short, rule=rule)
    manager = SessionManager(ModelHolder(model=model))
    steps = [manager.step("s", bar_json(df, i)) for i in range(len(df))]
    got = [(s.decision.action, s.decision.position) for s in steps if s.decision]
    path, _ = model.path_on(df)
    assert [a for a, _ in got] == list(path.actions)
    np.testing.assert_allclose([p for _, p in got], path.positions)


def test_a_new_manager_rebuilds_sessions_from_the_log(ohlcv_factory, tmp_path) -> None:
    """What a restart after kill -9 sees: only the SQLite bar log."""
    df = ohlcv_factory(160, seed=4)
    model = tiny_model(df, allow_short=True)
    first = SessionManager(ModelHolder(model=model), tmp_path / "s.db")
    for i in range(100):
        first.step("s", bar_json(df, i))
    side = first.state("s")["side"]
    again = SessionManager(ModelHolder(model=model), tmp_path / "s.db")
    rest = [again.step("s", bar_json(df, i)).decision.action for i in range(100, len(df))]
    assert again.state("s")["bars"] == len(df)
    path, _ = model.path_on(df)
    assert rest == list(path.actions[-len(rest) :])
    assert side in (-1.0, 0.0, 1.0)
