"""A tiny untrained `ModelPackage` on synthetic bars (decisions vary with the input)."""

from __future__ import annotations

import torch

from _features import SMALL_FEATURES
from regime_trader.config import Config
from regime_trader.features import Scaler, build_features
from regime_trader.nets import build_net
from regime_trader.package import ModelPackage
from regime_trader.policy.rule import DecisionRule

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SIZED = DecisionRule(base=(0.0, 0.001, 0.001), sizing="confidence", temperature=0.05)


def tiny_model(
    ohlcv,
    *,
    net: str = "mlp",
    allow_short: bool = False,
    rule=None,
    seed: int = 0,
    version: str = "1.0.0",
) -> ModelPackage:
    cfg = Config().override(
        data={"source": "bars", "train_end": None, "val_end": None},
        features=SMALL_FEATURES.model_dump(),
        regimes={"window": 5, "vol_history": 20, "min_duration": 2},
        env={"window": 10, "allow_short": allow_short},
        agent={"net": net, "hidden": [16, 16], "d_model": 16, "heads": 2},
    )
    fs = build_features(ohlcv, cfg.features)
    scaler = Scaler.fit(fs.values, fs.names)
    torch.manual_seed(seed)
    q_net = build_net(cfg.agent, cfg.env.window, len(fs.names)).eval()
    meta = {"name": "tiny", "version": version}
    return ModelPackage(
        cfg, q_net, scaler, rule or DecisionRule(), lookback=fs.lookback, metadata=meta
    )


def bar_json(frame, i: int) -> dict:
    row = frame.iloc[i]
    return {
        "timestamp": frame.index[i].isoformat(),
        **{k: float(row[k]) for k in ("open", "high", "low", "close")},
    }
