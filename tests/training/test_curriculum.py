"""Curriculum: the plan's four stages, synthetic segments appended to the real series."""

import numpy as np
import pytest
import torch

from regime_trader.config import Config
from regime_trader.envs.vector_env import VectorTradingEnv
from regime_trader.training import prepare
from regime_trader.training.curriculum import (
    PLAN_STAGES,
    CurriculumTrainingSchedule,
    build_curriculum,
)


def test_schedule_follows_the_fractions():
    s = CurriculumTrainingSchedule(1000, (0.1, 0.2, 0.3, 0.4))
    assert [s.stage(x).name for x in (0, 99, 100, 299, 300, 599, 600, 999, 5000)] == [
        "Basic", "Basic", "Intermediate", "Intermediate", "Advanced", "Advanced",
        "Expert", "Expert", "Expert",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        CurriculumTrainingSchedule(1000, (0.5, 0.5))


def test_plan_stages_grow_harder():
    regimes = [len(s.regimes) for s in PLAN_STAGES]
    assert regimes == sorted(regimes) and regimes[0] == 2 and regimes[-1] == 4
    assert [s.noise_level for s in PLAN_STAGES] == sorted(s.noise_level for s in PLAN_STAGES)
    assert PLAN_STAGES[-1].real_data and not any(s.real_data for s in PLAN_STAGES[:-1])


@pytest.fixture(scope="module")
def curriculum(ohlcv_frame):
    cfg = Config.from_dict({
        "data": {"train_end": None, "val_end": None}, "env": {"window": 10},
        "curriculum": {"enabled": True, "synthetic_bars": 400},
    })  # fmt: skip
    data = prepare(cfg, ohlcv=ohlcv_frame)
    return cfg, data, build_curriculum(cfg, data, np.random.default_rng(0))


def test_segments_stay_inside_their_series(curriculum):
    cfg, data, cur = curriculum
    n_real = len(data.market)
    assert torch.equal(cur.market.features[:n_real], data.market.features)
    assert [len(s) for s in cur.segments] == [2, 3, 4, 1]
    growth = cur.market.growth.numpy()
    for stage, seg in zip(PLAN_STAGES, cur.segments, strict=True):
        for first, last in seg.tolist():
            assert (first >= n_real) != stage.real_data
            assert np.isfinite(growth[first : last + 1]).all()  # no step crosses a join
    # each synthetic window starts inside its own series: the bar before it is a join or start
    starts = [int(s[0]) - cfg.env.window + 1 for seg in cur.segments[:3] for s in seg]
    assert all(np.isnan(growth[s - 1]) for s in starts)


def test_synthetic_labels_are_the_true_regimes(curriculum):
    _, data, cur = curriculum
    basic = cur.segments[0]
    labels = {int(cur.market.regimes[int(first)]) for first, _ in basic.tolist()}
    assert labels <= {0, 1}  # Basic shows uptrends and downtrends only


def test_env_draws_only_from_the_stage_segments(curriculum):
    cfg, _, cur = curriculum
    env = VectorTradingEnv(cur.market, cfg.env, 64, generator=torch.Generator().manual_seed(0))
    env.set_segments(cur.segments[1], cost_bps=10.0)
    env.reset()
    seg = cur.segments[1]
    inside = ((env.t[:, None] >= seg[None, :, 0]) & (env.stop[:, None] <= seg[None, :, 1])).any(1)
    assert bool(inside.all())
    assert env.cost_bps == 10.0
    env.set_segments(cur.segments[3])
    assert env.cost_bps == cfg.env.cost_bps


def test_only_a_network_that_trained_on_real_bars_is_kept(tmp_path, ohlcv_factory, csv_writer):
    """Validations during the synthetic stages are logged but never selected."""
    import json as _json

    from _evaluation import tiny_config
    from regime_trader.training import train as _train

    csv = csv_writer(ohlcv_factory(800, seed=2), tmp_path / "bars.csv")
    cfg = tiny_config(
        csv,
        curriculum={"enabled": True, "synthetic_bars": 300},
        train={"total_steps": 2400, "eval_every": 400},
    )
    res = _train(cfg, tmp_path / "run", progress=False)
    log = [_json.loads(x) for x in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    evals = [r for r in log if "eval/val_sharpe" in r]
    real = [r["eval/val_sharpe"] for r in evals if r["curriculum/selectable"]]
    assert real and len(real) < len(evals)  # some validations were in synthetic stages
    assert res.best_val_sharpe == max(real)
