"""`train_population`: each member equals ``train()`` with its own seed and window, bit for
bit on a CPU; members differ; checkpoints are selected per member; the stacked net, the
torch gradient and the committee hold to their definitions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from regime_trader.agents.dqn import split_output
from regime_trader.config import Config
from regime_trader.envs.market import MarketData
from regime_trader.errors import ConfigError
from regime_trader.nets import EnhancedDQN, MLPQNet
from regime_trader.nets.population import Committee, StackedMLP, committee_q
from regime_trader.policy.backtest import backtest_net, decision_range, policy_metrics
from regime_trader.policy.policy import load_folder
from regime_trader.policy.prepare import prepare
from regime_trader.training import population, train
from regime_trader.training.committee import committee_policy
from regime_trader.training.population import train_population
from regime_trader.training.population_grad import StackedNumpyGradient, StackedTorchGradient
from regime_trader.types import Batch

# (seed, first date): two seeds on the whole series, one seed on a later window
MEMBERS = [(3, None), (4, None), (3, "2010-06-01")]
FILES = ("model.safetensors", "train_log.jsonl", "config.yaml", "features.json", "split.json")


def _config(csv: Path, seed: int, start: str | None) -> Config:
    return Config.from_dict(
        {
            "data": {"source": str(csv), "train_end": None, "val_end": None, "start": start},
            "env": {"window": 10},
            "agent": {
                "hidden": [32, 32],
                "learning_starts": 500,
                "batch_size": 32,
                "train_freq": 4,
                "buffer_size": 1004,  # wraps, with a split write (1004 = 125 x 8 + 4)
            },
            "train": {"total_steps": 3000, "eval_every": 1000, "n_envs": 8, "seed": seed},
            "tracking": {"backend": "none"},
        }
    )


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, ohlcv_factory: Callable, csv_writer: Callable
) -> dict:
    """The members trained as one population and each alone with ``train()``."""
    root = tmp_path_factory.mktemp("population")
    csv = csv_writer(ohlcv_factory(1200, seed=1), root / "bars.csv")
    cfgs = [_config(csv, seed, start) for seed, start in MEMBERS]
    pop_dirs = [root / f"pop{i}" for i in range(len(cfgs))]
    seq_dirs = [root / f"seq{i}" for i in range(len(cfgs))]
    result = train_population(cfgs, pop_dirs, progress=False)
    alone = [train(c, d, progress=False) for c, d in zip(cfgs, seq_dirs, strict=True)]
    return {"cfgs": cfgs, "pop": pop_dirs, "seq": seq_dirs, "result": result, "alone": alone}


def test_each_member_equals_train_with_its_seed_and_window(runs: dict) -> None:
    for i, (pop, seq) in enumerate(zip(runs["pop"], runs["seq"], strict=True)):
        for name in FILES[1:]:
            assert (pop / name).read_text() == (seq / name).read_text(), (i, name)
        a, b = load_file(str(pop / FILES[0])), load_file(str(seq / FILES[0]))
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[k], b[k]) for k in a), f"member {i}: weights differ"
        member, alone = runs["result"].members[i], runs["alone"][i]
        assert member.best_val_sharpe == alone.best_val_sharpe
        assert (member.env_steps, member.updates) == (alone.env_steps, alone.updates)
    assert not (runs["pop"][0] / "checkpoint.pt").exists()  # no resume for populations


def test_the_regime_reward_shorts_and_vol_target_sizing_match_train_too(
    tmp_path: Path, runs: dict
) -> None:
    options = {
        "env": {"window": 10, "allow_short": True, "sizing": "vol_target", "fill": "close"},
        "reward": {"kind": "regime"},
        "train": {"total_steps": 2000},
    }
    cfgs = [c.override(**options) for c in (runs["cfgs"][0], runs["cfgs"][2])]
    pop = [tmp_path / "p0", tmp_path / "p1"]
    train_population(cfgs, pop, progress=False)
    for cfg, folder in zip(cfgs, pop, strict=True):
        alone = tmp_path / f"alone-{folder.name}"
        train(cfg, alone, progress=False)
        assert (folder / "train_log.jsonl").read_text() == (alone / "train_log.jsonl").read_text()
        a, b = load_file(str(folder / FILES[0])), load_file(str(alone / FILES[0]))
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_members_with_different_seeds_or_windows_differ(runs: dict) -> None:
    weights = [load_file(str(d / FILES[0])) for d in runs["pop"]]
    logs = [(d / "train_log.jsonl").read_text() for d in runs["pop"]]
    for i, j in ((0, 1), (0, 2)):
        assert not all(np.array_equal(weights[i][k], weights[j][k]) for k in weights[i])
        assert logs[i] != logs[j]


def test_each_member_keeps_its_own_best_validation_weights(runs: dict) -> None:
    for folder, cfg in zip(runs["pop"], runs["cfgs"], strict=True):
        log = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
        best = max(r["eval/val_sharpe"] for r in log)
        policy = load_folder(folder)  # the loaders read a member's folder as a run
        data = prepare(cfg)
        first, last = decision_range(
            data.market, cfg.env.window, cfg.env.fill, data.split.val.start, data.split.val.stop
        )
        sharpe = policy_metrics(policy.backtest(data.market, first, last), data.market)["sharpe"]
        assert sharpe == best


def test_members_must_share_everything_but_data_seed_and_tracking(
    tmp_path: Path, runs: dict
) -> None:
    base = runs["cfgs"][0]
    with pytest.raises(ConfigError, match="agent.lr"):
        train_population(
            [base, base.override(agent={"lr": 1e-3})], [tmp_path / "a", tmp_path / "b"]
        )
    with pytest.raises(ConfigError, match="share an out_dir"):
        train_population([base, base], [tmp_path / "a", tmp_path / "a"])
    for section in ({"agent": {"net": "enhanced"}}, {"replay": {"kind": "prioritized"}}):
        with pytest.raises(ConfigError, match="supports"):
            train_population([base.override(**section)], [tmp_path / "c"])
    assert not any(tmp_path.iterdir())


def test_a_failed_population_leaves_no_member_folder(tmp_path: Path, runs: dict) -> None:
    def stop(member: int, step: int, record: dict) -> None:
        raise RuntimeError("stop")

    dirs = [tmp_path / "x", tmp_path / "y"]
    with pytest.raises(RuntimeError):
        train_population(runs["cfgs"][:2], dirs, progress=False, on_eval=stop)
    assert not any(d.exists() for d in dirs)


def test_the_torch_gradient_trains_a_population_end_to_end(
    tmp_path: Path, runs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path CUDA takes (`StackedTorchGradient`), run on the CPU: it trains and writes
    every member's files; its numbers differ from the NumPy path's only by rounding."""
    monkeypatch.setattr(population, "gradient_kind", lambda device: StackedTorchGradient)
    cfgs = [c.override(train={"total_steps": 1600}) for c in runs["cfgs"][:2]]
    dirs = [tmp_path / "a", tmp_path / "b"]
    result = train_population(cfgs, dirs, progress=False)
    for d, member in zip(dirs, result.members, strict=True):
        assert all((d / name).is_file() for name in FILES)
        assert np.isfinite(member.best_val_sharpe)
        log = [json.loads(line) for line in (d / "train_log.jsonl").read_text().splitlines()]
        assert [r["env_steps"] for r in log] == [1000, 1600]
        assert all(np.isfinite(r["train/td_loss"]) for r in log)


def _mlps(n: int, seed: int = 0) -> list[MLPQNet]:
    torch.manual_seed(seed)
    return [MLPQNet(6, 4, 1, (16, 8)) for _ in range(n)]


def test_stacked_mlp_forward_equals_each_member_net_bit_for_bit() -> None:
    nets = _mlps(3)
    stacked = StackedMLP.from_nets(nets)
    window, state = torch.randn(3, 17, 6, 4), torch.randint(-1, 2, (3, 17, 1)).float()
    out = stacked(window, state)
    for m, net in enumerate(nets):
        assert torch.equal(out[m], net(window[m], state[m]))
        assert torch.equal(stacked(window[0], state[0])[m], net(window[0], state[0]))  # shared
        copy = stacked.member(m)
        assert all(
            torch.equal(a, b) for a, b in zip(copy.parameters(), net.parameters(), strict=True)
        )
    views = stacked.param_views()
    assert len(views) == 3 * len(list(nets[0].parameters()))
    flat = [p.detach().flatten() for net in nets for p in net.parameters()]
    assert all(torch.equal(v, f) for v, f in zip(views, flat, strict=True))


def _batch(m: int, b: int, w: int, f: int) -> Batch:
    g = torch.Generator().manual_seed(1)
    both = torch.randn(m, b, w + 1, f, generator=g)
    return Batch(
        window=both[:, :, :-1],
        state=torch.randint(0, 2, (m, b, 1), generator=g).float(),
        action=torch.randint(0, 3, (m, b), generator=g),
        reward=torch.randn(m, b, generator=g) * 0.01,
        next_window=both[:, :, 1:],
        next_state=torch.randint(0, 2, (m, b, 1), generator=g).float(),
        done=torch.zeros(m, b),
        weights=torch.ones(m, b),
        indices=torch.zeros(m, b, dtype=torch.long),
        regime=torch.zeros(m, b, dtype=torch.long),
    )


@pytest.mark.parametrize("max_norm", [10.0, 1e-3])  # the clip inactive, and active
def test_the_torch_gradient_equals_the_numpy_gradient(max_norm: float) -> None:
    nets = _mlps(3)
    online, target = StackedMLP.from_nets(nets), StackedMLP.from_nets(_mlps(3, seed=1))
    batch = _batch(3, 32, 6, 4)
    fast = StackedNumpyGradient(online, target, 0.99, max_norm)
    ref = StackedTorchGradient(online, target, 0.99, max_norm)
    td_np, td_torch = fast(batch), ref(batch)
    np.testing.assert_allclose(td_np, td_torch.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fast.flat_grad, ref.flat_grad, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(fast.last_loss(), ref.last_loss(), rtol=1e-5)
    norms = torch.linalg.vector_norm(fast.flat_grad, dim=1)
    assert bool((norms <= max_norm * (1 + 1e-5)).all())


def test_a_committee_of_identical_nets_is_the_net() -> None:
    net = _mlps(1)[0]
    window, state = torch.randn(9, 6, 4), torch.zeros(9, 1)
    for size in (1, 2, 3):
        committee = Committee([net] * size)
        assert committee.stacked is not None  # one stacked forward
        torch.testing.assert_close(committee(window, state), net(window, state), rtol=1e-6, atol=0)
    torch.manual_seed(0)
    enhanced = EnhancedDQN(6, 4, d_model=8, heads=2, lstm_hidden=8).eval()
    q, logits = split_output(Committee([enhanced] * 3)(window, state))
    q1, logits1 = enhanced(window, state)
    torch.testing.assert_close(q, q1, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(logits.softmax(-1), logits1.softmax(-1), rtol=1e-5, atol=1e-6)


def test_a_committee_is_the_mean_of_its_members_and_backtests_like_a_net(
    market: MarketData,
) -> None:
    nets = [MLPQNet(10, market.n_features, 1, (16,)) for _ in range(3)]
    window = market.windows(torch.arange(20, 40), 10)
    state = torch.zeros(20, 1)
    mean = torch.stack([n(window, state) for n in nets]).mean(0)
    torch.testing.assert_close(committee_q(nets, window, state), mean)
    res = backtest_net(
        Committee(nets), market, 20, 200, Config().env.model_copy(update={"window": 10})
    )
    assert len(res.returns) == 181


def test_committee_policy_over_the_seeds_of_one_window(runs: dict) -> None:
    policy = committee_policy(runs["pop"][:2])
    members = [load_folder(d) for d in runs["pop"][:2]]
    data = prepare(runs["cfgs"][0])
    window = data.market.windows(torch.arange(50, 60), 10)
    state = torch.zeros(10, 1)
    mean = torch.stack([p.net(window, state) for p in members]).mean(0)
    torch.testing.assert_close(policy.net(window, state), mean)
    assert policy.name == "committee" and not policy.calibrated
    policy.backtest(data.market, 50, 300)
    with pytest.raises(ConfigError, match="another config"):
        committee_policy([runs["pop"][0], runs["pop"][2]])  # another window
