"""Curriculum: from clean synthetic trends to the full real series (plan Phase 3).

`CurriculumTrainingSchedule` holds the plan's four stages. Each stage says which market
regimes its synthetic scenarios show, their noise level and the transaction cost; the last
stage ("Expert") trains on the real training split at the env's own cost. Stages are
measured in env steps (the batched env runs many episodes at once), not episodes.

`build_curriculum` generates the synthetic series once (seeded), computes their features with
the real series' scaler, and appends them to the real `MarketData`, so the env and the replay
index one bundle; each stage is a list of decision-bar segments in it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from regime_trader.config import Config
from regime_trader.envs.market import MarketData
from regime_trader.envs.spec import last_decision
from regime_trader.features import build_features
from regime_trader.policy.prepare import Prepared, bar_sizes
from regime_trader.scenarios import generate
from regime_trader.scenarios.generators import default_params


@dataclass(frozen=True)
class Stage:
    """One curriculum stage (the plan's dict, typed)."""

    name: str
    regimes: tuple[str, ...]
    noise_level: float
    transaction_cost: float | None  # fraction of traded notional; None: the env's own cost
    real_data: bool


PLAN_STAGES = (
    Stage("Basic", ("uptrend", "downtrend"), 0.01, 0.0005, False),
    Stage("Intermediate", ("uptrend", "downtrend", "plateau"), 0.02, 0.001, False),
    Stage("Advanced", ("uptrend", "downtrend", "plateau", "oscillating"), 0.03, 0.002, False),
    Stage("Expert", ("uptrend", "downtrend", "plateau", "oscillating"), 0.04, None, True),
)


class CurriculumTrainingSchedule:
    """Which stage a given env step belongs to.

    Args:
        total_steps: env steps of the whole run.
        fractions: share of the steps in each stage (sums to 1).
        stages: the stages, easiest first.
    """

    def __init__(
        self,
        total_steps: int,
        fractions: tuple[float, ...],
        stages: tuple[Stage, ...] = PLAN_STAGES,
    ):
        if len(fractions) != len(stages) or abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError("curriculum fractions must give one share per stage and sum to 1")
        self.stages = stages
        self.ends = np.cumsum(np.asarray(fractions) * total_steps)

    def stage_index(self, step: int) -> int:
        """Index of the stage of env step ``step`` (the last stage beyond the end)."""
        return min(int(np.searchsorted(self.ends, step, side="right")), len(self.stages) - 1)

    def stage(self, step: int) -> Stage:
        return self.stages[self.stage_index(step)]


@dataclass(frozen=True)
class CurriculumData:
    """The real series plus every stage's synthetic series, and each stage's segments."""

    market: MarketData
    segments: tuple[torch.Tensor, ...]  # per stage: [S, 2] first/last decision bars


def build_curriculum(cfg: Config, data: Prepared, rng: np.random.Generator) -> CurriculumData:
    """Generate the synthetic series of every stage and bundle them after the real series."""
    window, parts = cfg.env.window, [data.market]
    real = (max(data.split.train.start, window - 1), data.split.train.stop - 3)
    offset, segments = len(data.market), []
    for stage in PLAN_STAGES:
        if stage.real_data:
            segments.append(torch.tensor([real]))
            continue
        spans = []
        for kind in stage.regimes:
            market = _synthetic_market(cfg, data, kind, stage.noise_level, rng)
            spans.append((offset + window - 1, offset + last_decision(len(market), cfg.env.fill)))
            parts.append(market)
            offset += len(market)
        segments.append(torch.tensor(spans))
    dev = data.market.device
    return CurriculumData(concat(parts), tuple(s.to(dev) for s in segments))


def _synthetic_market(
    cfg: Config, data: Prepared, kind: str, noise_level: float, rng: np.random.Generator
) -> MarketData:
    params = replace(default_params(kind), noise=noise_level * cfg.curriculum.noise_scale)
    frame = generate(kind, cfg.curriculum.synthetic_bars, rng=rng, params=params)
    fs = build_features(frame, cfg.features)
    labels = frame["true_regime"].to_numpy()[fs.lookback :]
    size = bar_sizes(cfg.env, frame)
    return MarketData.build(
        data.scaler.transform(fs.values),
        frame.iloc[fs.lookback :],
        labels,
        names=fs.names,
        fill=cfg.env.fill,
        device=data.market.device,
        size=None if size is None else size[fs.lookback :],
    )


def concat(parts: list[MarketData]) -> MarketData:
    """One `MarketData` holding several series back to back (windows never cross a join
    because every segment starts a full window after its series' first bar)."""
    return MarketData(
        features=torch.cat([p.features for p in parts]),
        growth=torch.cat([p.growth for p in parts]),
        regimes=torch.cat([p.regimes for p in parts]),
        index=pd.DatetimeIndex(parts[0].index.append([p.index for p in parts[1:]])),
        open=np.concatenate([p.open for p in parts]),
        close=np.concatenate([p.close for p in parts]),
        fill=np.concatenate([p.fill for p in parts]),
        names=parts[0].names,
        size=torch.cat([p.size for p in parts]),
    )
