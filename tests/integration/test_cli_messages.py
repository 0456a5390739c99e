"""What the CLI says: error messages (snapshots), `next:` lines, and every switch in the output.

Each error case is a one-line message on stderr, exit code 2, compared with its snapshot in
``tests/integration/snapshots/messages/`` (the temporary folder shown as ``TMP``). Rewrite
them after an intended change with ``UPDATE_SNAPSHOTS=1 pytest tests/integration/test_cli_messages.py``.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import yaml
from _cli import check_snapshot

from regime_trader.cli import run

if TYPE_CHECKING:
    from regime_trader.config import Config

RaRun = tuple[Path, Path, str]  # run folder, its CSV, what `train` printed
SNAPSHOTS = Path(__file__).parent / "snapshots" / "messages"
TINY = ["--set", "train.total_steps=2000", "--set", "train.eval_every=1000"]
TINY += ["--set", "agent.learning_starts=200", "--set", "train.device=cpu"]
TINY += ["--set", "tracking.backend=none", "--quiet"]


def _cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _short_csv(tmp: Path) -> Path:
    idx = pd.date_range("2020-01-01", periods=100, freq="D")
    close = pd.Series(range(100, 200), dtype=float)
    frame = pd.DataFrame(
        {"timestamp": idx, "open": close, "high": close + 1, "low": close - 1, "close": close}
    )
    frame.to_csv(tmp / "short.csv", index=False)
    return tmp / "short.csv"


def _finetuned_folder(tmp: Path) -> None:
    (tmp / "run" / "finetuned").mkdir(parents=True)
    (tmp / "run" / "finetuned" / "config.yaml").write_text("{}\n", encoding="utf-8")


ERRORS: dict[str, tuple[list[str], object]] = {
    "train_short_csv": (
        ["train", "--data", "TMP/short.csv", "--out", "TMP/r", "--budget", "tiny"],
        _short_csv,
    ),
    "train_missing_out": (["train"], None),
    "train_bad_agent": (["train", "--agent", "clever", "--out", "TMP/r"], None),
    "train_resume_with_force": (["train", "--resume", "TMP/r", "--force"], None),
    "backtest_not_a_run": (["backtest", "TMP/nope", "--data", "spx", "--out", "TMP/o"], None),
    "features_missing_file": (
        ["features", "TMP/missing.csv", "--out", "TMP/x.parquet"],
        None,
    ),
    "regimes_bad_plot": (["regimes", "spx", "--plot", "TMP/x.jpg"], None),
    "finetune_not_a_run": (["finetune", "TMP/nope"], None),
    "finetune_done_before": (["finetune", "TMP/run"], _finetuned_folder),
    "finetune_no_force_flag": (["finetune", "TMP/run", "--no-force"], None),
    "evaluate_not_a_run": (["evaluate", "TMP/nope", "--out", "TMP/e"], None),
    "walkforward_no_data": (["walkforward", "--out", "TMP/w"], None),
    "walkforward_bad_backend": (
        ["walkforward", "--out", "TMP/w", "--data", "spx", "--backend", "spark"],
        None,
    ),
    "verify_no_results": (["verify", "TMP", "--out", "TMP/v"], None),
    "verify_bad_kind": (["verify", "TMP", "--out", "TMP/v", "--kind", "live"], None),
    "abtest_one_model": (["abtest", "TMP/a", "--data", "spx"], None),
    "abtest_bad_alpha": (["abtest", "TMP/a", "TMP/b", "--data", "spx", "--alpha", "2"], None),
    "registry_unknown_model": (
        [
            "registry",
            "promote",
            "spx",
            "1",
            "--reason",
            "x",
            "--registry",
            "TMP/reg",
            "--backend",
            "local",
        ],
        None,
    ),  # fmt: skip
    "registry_bad_backend": (["registry", "list", "--backend", "s3"], None),
    "serve_bad_device": (["serve", "TMP/pkg", "--device", "gpu"], None),
    "monitor_missing_db": (["monitor", "TMP/missing.db"], None),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_error_message_snapshot(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, setup = ERRORS[name]
    if callable(setup):
        setup(tmp_path)
    args = [a.replace("TMP", str(tmp_path)) for a in argv]
    code, _, err = _cli(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err
    shown = lines[0].replace(str(tmp_path), "TMP")
    check_snapshot(SNAPSHOTS / f"{name}.txt", f"$ regime-trader {shlex.join(argv)}\n{shown}\n")


def test_finetune_refusal_does_not_point_at_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _finetuned_folder(tmp_path)
    code, _, err = _cli(capsys, "finetune", tmp_path / "run")
    assert code == 2 and "--force" in err and "--resume" not in err


def test_verify_names_the_policies_it_has(capsys: pytest.CaptureFixture[str]) -> None:
    from regime_trader.cli.evaluation_cmds import _check_policies
    from regime_trader.errors import ConfigError

    rows = pd.DataFrame({"policy": ["original", "calibrated", "buy_and_hold"]})
    with pytest.raises(ConfigError) as info:
        _check_policies(rows, Path("runs/wf"), "original", ["regime_aware"])
    check_snapshot(SNAPSHOTS / "verify_unknown_candidate.txt", f"{info.value}\n")
    _check_policies(rows, Path("runs/wf"), "original", ["calibrated"])  # known: no error


def test_data_list_heads_the_bar_column_timeframe(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "data", "list")
    header = next(line for line in out.splitlines() if "name" in line)
    assert code == 0 and "timeframe" in header and "rows" not in header
    assert out.splitlines()[-1].startswith("next: regime-trader train --agent regime-aware")


def test_agent_presets_reach_the_config() -> None:
    from regime_trader.cli.base import AgentChoice, NetChoice
    from regime_trader.cli.training import _is_regime_aware, _train_config
    from regime_trader.presets import ORIGINAL, REGIME_AWARE

    def cfg(agent: AgentChoice, net: NetChoice | None = None, sets: tuple[str, ...] = ()) -> Config:
        return _train_config(None, agent, net, list(sets), data=None, seed=None, budget=None)

    for agent, preset in (
        (AgentChoice.original, ORIGINAL),
        (AgentChoice.regime_aware, REGIME_AWARE),
    ):
        c = cfg(agent)
        for section, fields in preset.items():
            for field, want in fields.items():
                assert getattr(getattr(c, section), field) == want, (agent, section, field)
    assert _is_regime_aware(cfg(AgentChoice.regime_aware))
    assert not _is_regime_aware(cfg(AgentChoice.original))
    assert cfg(AgentChoice.regime_aware, NetChoice.mlp).agent.net == "mlp"  # --net after it
    assert cfg(AgentChoice.original, sets=("reward.kind=regime",)).reward.kind == "regime"


def test_regime_trader_load_takes_a_run_folder_or_a_package(tmp_path: Path) -> None:
    import regime_trader
    from regime_trader.package import load_model

    assert regime_trader.load is load_model
    with pytest.raises(regime_trader.ConfigError, match="neither a model package nor a run"):
        regime_trader.load(tmp_path)


@pytest.fixture(scope="module")
def ra_run(
    tmp_path_factory: pytest.TempPathFactory,
    ohlcv_factory: Callable[..., pd.DataFrame],
    csv_writer: Callable[[pd.DataFrame, Path], Path],
) -> RaRun:
    """`train --agent regime-aware` on 600 bars at a tiny budget: folder, CSV, stdout."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("ra")
    csv = csv_writer(ohlcv_factory(600, seed=4), root / "bars.csv")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = run(["train", "--agent", "regime-aware", "--data", str(csv), "--out",
                    str(root / "ra"), *TINY])  # fmt: skip
    assert code == 0, stdout.getvalue()
    return root / "ra", csv, stdout.getvalue()


@pytest.mark.slow  # ~5 s on two busy cores (training, calibration, backtests)
def test_regime_aware_train_calibrates_and_points_at_the_backtest(
    ra_run: RaRun, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, csv, out = ra_run
    assert (run_dir / "calibration.json").is_file()
    assert "calibration: validation Sharpe" in out and "Decisions: " in out
    split = json.loads((run_dir / "split.json").read_text(encoding="utf-8"))
    nxt = out.strip().splitlines()[-1]
    assert nxt == (
        f"next: regime-trader backtest {run_dir} --data {csv} --start {split['test']['start']} "
        f"--out {run_dir / 'test'}"
    )
    code, out, _ = _cli(capsys, *shlex.split(nxt)[2:])  # the printed command, as pasted
    assert code == 0
    assert "Period: " in out and "Decisions: " in out
    assert out.strip().splitlines()[-1] == f"next: regime-trader package {run_dir} --out pkgs/ra"
    code, out, _ = _cli(capsys, *shlex.split(nxt)[2:], "--greedy")
    assert code == 0 and "Decisions: greedy; sizing " in out


@pytest.mark.slow  # ~3 s on two busy cores
def test_finetune_recalibrates_when_the_parent_was_calibrated(
    ra_run: RaRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _, _ = ra_run
    code, out, err = _cli(capsys, "finetune", run_dir, "--steps", "400", "--out", tmp_path / "ft")
    assert code == 0, err
    assert (tmp_path / "ft" / "calibration.json").is_file()
    assert f"{run_dir} was calibrated: calibrating {tmp_path / 'ft'}" in out
    assert (
        out.strip().splitlines()[-1].startswith(f"next: regime-trader backtest {tmp_path / 'ft'}")
    )


@pytest.mark.slow  # ~3 s on two busy cores
def test_finetune_of_an_uncalibrated_run_says_so(
    ra_run: RaRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _, _ = ra_run
    plain = tmp_path / "plain"
    shutil.copytree(run_dir, plain, ignore=shutil.ignore_patterns("calibration.json", "test*"))
    code, out, err = _cli(capsys, "finetune", plain, "--steps", "400")
    assert code == 0, err
    assert f"(uncalibrated, as {plain})" in out
    assert out.strip().splitlines()[-1] == f"next: regime-trader calibrate {plain / 'finetuned'}"


@pytest.mark.slow  # ~3 s on two busy cores
def test_package_registry_say_what_they_did(
    ra_run: RaRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import regime_trader

    run_dir, _, _ = ra_run
    assert regime_trader.load(run_dir).name == "ra"  # a run folder, as serve and abtest take
    src = tmp_path / "ra"
    shutil.copytree(run_dir, src, ignore=shutil.ignore_patterns("test*", "finetuned"))
    pkg, reg = tmp_path / "pkgs" / "ra", ("--registry", tmp_path / "reg", "--backend", "local")
    code, out, err = _cli(capsys, "package", src, "--out", pkg)
    assert code == 0, err
    assert f"next: regime-trader registry register {pkg} --name ra" in out
    code, out, _ = _cli(capsys, "registry", "register", pkg, *reg)
    assert code == 0 and "next: regime-trader registry promote ra 1 --reason" in out
    code, out, _ = _cli(capsys, "registry", "promote", "ra", "1", "--reason", "first", *reg)
    assert code == 0 and "ra version 1 is now 'champion'" in out
    assert "no A/B evidence" in out
    code, out, _ = _cli(capsys, "registry", "list", *reg)
    assert code == 0
    assert "registry registry" not in out and f"local registry in {tmp_path / 'reg'}/" in out
    stored = next(line for line in out.splitlines() if line.startswith("ra version 1: "))
    assert "…" not in out and Path(stored.split(": ", 1)[1]).is_dir()  # the full path
    assert out.strip().splitlines()[-1].startswith("next: regime-trader serve registry:ra@champion")
    cfg = yaml.safe_load((src / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["agent"]["net"] == "enhanced"
