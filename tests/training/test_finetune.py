"""Uptrend fine-tuning (`training.finetune`): a loadable run folder, kept only if validation
improves, deterministic, blind to test bars, and its replay batches really lean to uptrends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from _features import SMALL_FEATURES
from regime_trader.api import load_folder
from regime_trader.config import Config
from regime_trader.data import load_ohlcv
from regime_trader.errors import ConfigError
from regime_trader.regimes import UPTREND
from regime_trader.replay import ReplayBuffer
from regime_trader.training import prepare, train
from regime_trader.training.finetune import finetune_config, finetune_uptrend

TINY = {
    "data": {"train_end": None, "val_end": None},
    "features": SMALL_FEATURES.model_dump(mode="json"),
    "regimes": {"window": 10, "vol_history": 40, "trend_threshold": 0.15, "min_duration": 1},
    "env": {"window": 10},
    "agent": {"hidden": [32, 32], "learning_starts": 500, "batch_size": 32},
    "train": {"total_steps": 3000, "eval_every": 1500, "n_envs": 8, "seed": 0, "device": "cpu"},
}
STEPS = 3000
RECORD = ("kept", "val_sharpe_before", "val_sharpe_after", "steps", "uptrend_quota")


def _uptrend_share(labels: list[torch.Tensor]) -> float:
    return float((torch.cat(labels) == UPTREND).double().mean())


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, ohlcv_factory, csv_writer) -> dict:
    """A tiny run and its fine-tuning, recording the regime labels of every replayed batch."""
    root = tmp_path_factory.mktemp("finetune")
    csv = csv_writer(ohlcv_factory(800, seed=0), root / "bars.csv")
    cfg = Config.from_dict({**TINY, "data": {**TINY["data"], "source": str(csv)}})
    sampled: list[torch.Tensor] = []
    gather = ReplayBuffer.gather

    def recording(self, slots, weights):
        batch = gather(self, slots, weights)
        sampled.append(batch.regime.clone())
        return batch

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ReplayBuffer, "gather", recording)
        original = train(cfg, root / "run", progress=False)
        n_original = len(sampled)
        result = finetune_uptrend(root / "run", steps=STEPS)
    return {
        "cfg": cfg,
        "csv": csv,
        "root": root,
        "original": original,
        "result": result,
        "share_before": _uptrend_share(sampled[:n_original]),
        "share_after": _uptrend_share(sampled[n_original:]),
    }


def _weights(run: Path) -> bytes:
    return (run / "model.safetensors").read_bytes()


def test_writes_a_loadable_run_and_the_record(tuned) -> None:
    res, root = tuned["result"], tuned["root"]
    out = root / "run" / "finetuned"
    assert res.run_dir == out and res.steps == STEPS and res.train.env_steps == STEPS
    record = json.loads((out / "finetune.json").read_text())
    assert {k: record[k] for k in RECORD} == {
        "kept": res.kept,
        "val_sharpe_before": res.val_sharpe_before,
        "val_sharpe_after": res.val_sharpe_after,
        "steps": STEPS,
        "uptrend_quota": 0.5,
    }
    assert record["seconds"] > 0
    # like for like: the re-measured "before" is the original run's own best validation Sharpe
    assert res.val_sharpe_before == tuned["original"].best_val_sharpe
    assert res.val_sharpe_after == res.train.best_val_sharpe
    loaded = load_folder(out, torch.device("cpu"))
    cfg = loaded.config
    assert cfg.replay.kind == "regime" and cfg.replay.regime_quotas[UPTREND] == 0.5
    assert cfg.agent.lr == pytest.approx(tuned["cfg"].agent.lr * 0.3)
    assert (out / "features.json").read_text() == (root / "run" / "features.json").read_text()
    if not res.kept:
        assert _weights(out) == _weights(root / "run")


def test_replayed_batches_lean_to_uptrends(tuned) -> None:
    """Measured on the regime labels of every transition replayed while training."""
    before, after = tuned["share_before"], tuned["share_after"]
    assert 0.1 < before < 0.45  # uniform replay: about the uptrend share of the bars
    assert after == pytest.approx(0.5, abs=0.01)  # the quota, batch by batch


@pytest.mark.slow  # a second fine-tuning (~3 s on two busy cores)
def test_same_seed_same_result(tuned) -> None:
    root, first = tuned["root"], tuned["result"]
    again = finetune_uptrend(root / "run", root / "again", steps=STEPS)
    a = json.loads((first.run_dir / "finetune.json").read_text())
    b = json.loads((again.run_dir / "finetune.json").read_text())
    assert {k: a[k] for k in RECORD} == {k: b[k] for k in RECORD}
    assert _weights(first.run_dir) == _weights(again.run_dir)
    assert (first.run_dir / "train_log.jsonl").read_text() == (
        again.run_dir / "train_log.jsonl"
    ).read_text()


@pytest.mark.slow  # a second fine-tuning (~3 s on two busy cores)
def test_test_bars_never_read(tuned) -> None:
    """Changing every bar of the test part leaves training and the decision unchanged."""
    cfg, root, first = tuned["cfg"], tuned["root"], tuned["result"]
    frame = load_ohlcv(tuned["csv"])  # the bars `prepare(cfg)` read for the first fine-tuning
    clean = prepare(cfg, device="cpu")
    test_from = clean.ohlcv.index[clean.split.test.start]
    rows = frame.index >= test_from
    shock = np.exp(np.cumsum(np.random.default_rng(1).normal(0.01, 0.05, rows.sum())))
    frame.loc[rows, ["open", "high", "low", "close"]] *= shock[:, None]
    perturbed = prepare(cfg, ohlcv=frame, device="cpu")
    test = clean.split.test
    assert not torch.equal(clean.market.features[test], perturbed.market.features[test])
    again = finetune_uptrend(root / "run", root / "perturbed", steps=STEPS, data=perturbed)
    a = json.loads((first.run_dir / "finetune.json").read_text())
    b = json.loads((again.run_dir / "finetune.json").read_text())
    assert {k: a[k] for k in RECORD} == {k: b[k] for k in RECORD}
    assert _weights(first.run_dir) == _weights(again.run_dir)


def test_not_kept_leaves_the_original_weights(tuned) -> None:
    """A learning rate too small to change any action cannot improve validation: not kept."""
    root = tuned["root"]
    res = finetune_uptrend(root / "run", root / "still", steps=1000, lr_scale=1e-9)
    assert res.kept is False and res.val_sharpe_after == res.val_sharpe_before
    assert _weights(root / "still") == _weights(root / "run")
    assert json.loads((root / "still" / "finetune.json").read_text())["kept"] is False
    net = load_folder(root / "still", torch.device("cpu")).net  # still a loadable run
    assert net is not None


def test_config_changes_only_what_fine_tuning_needs() -> None:
    cfg = Config.from_dict(TINY).override(replay={"regime_quotas": [0.1, 0.3, 0.2, 0.4]})
    ft = finetune_config(cfg, steps=2000, uptrend_quota=0.6, lr_scale=0.5)
    assert ft.replay.kind == "regime" and ft.replay.alpha == 0.0  # the run replayed uniformly
    assert ft.replay.regime_quotas == pytest.approx(
        (0.6, 0.4 * 0.3 / 0.9, 0.4 * 0.2 / 0.9, 0.4 * 0.4 / 0.9)
    )
    assert ft.agent.lr == pytest.approx(cfg.agent.lr * 0.5)
    assert ft.agent.eps_start == ft.agent.eps_end == cfg.agent.eps_end
    assert ft.train.total_steps == 2000 and ft.train.eval_every == 500
    assert ft.model_dump(exclude={"agent", "replay", "train", "curriculum"}) == cfg.model_dump(
        exclude={"agent", "replay", "train", "curriculum"}
    )
    prioritized = cfg.override(replay={"kind": "prioritized", "alpha": 0.7})
    assert finetune_config(prioritized, steps=2000).replay.alpha == 0.7


def test_not_a_run_folder_names_it(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match=f"'{tmp_path}' is not a trained run folder"):
        finetune_uptrend(tmp_path, steps=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


@pytest.mark.parametrize(
    ("options", "field"),
    [({"steps": 0}, "steps"), ({"steps": 10, "uptrend_quota": 1.5}, "uptrend_quota"),
     ({"steps": 10, "lr_scale": 0.0}, "lr_scale")],
)  # fmt: skip
def test_bad_options_name_the_option(tuned, options, field) -> None:
    with pytest.raises(ConfigError, match=field):
        finetune_uptrend(tuned["root"] / "run", tuned["root"] / "bad", **options)
    assert not (tuned["root"] / "bad").exists()


def test_data_scaled_otherwise_is_refused(tuned, ohlcv_factory) -> None:
    other = prepare(tuned["cfg"], ohlcv=ohlcv_factory(800, seed=5), device="cpu")
    with pytest.raises(ConfigError, match="scaled differently"):
        finetune_uptrend(tuned["root"] / "run", tuned["root"] / "other", steps=100, data=other)
    assert not (tuned["root"] / "other").exists()


def test_out_dir_holding_a_run_is_refused(tuned) -> None:
    with pytest.raises(ConfigError, match="already holds a run"):
        finetune_uptrend(tuned["root"] / "run", tuned["root"] / "run" / "finetuned", steps=100)
    with pytest.raises(ConfigError, match="is the run itself"):
        finetune_uptrend(tuned["root"] / "run", tuned["root"] / "run", steps=100)
