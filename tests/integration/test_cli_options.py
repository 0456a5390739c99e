"""CLI options a user expects: choices in --help, --version, --set, --force, one CLI."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import re
from pathlib import Path
from typing import get_args

import pytest
import yaml

from regime_trader.cli import run
from regime_trader.cli.base import BackendChoice, BudgetChoice, NetChoice, ScenarioChoice
from regime_trader.config import AgentConfig, Budget

CLI_SRC = Path(__file__).parents[2] / "src" / "regime_trader" / "cli"
TINY = ["--set", "train.total_steps=2000", "--set", "train.eval_every=1000"]
TINY += ["--set", "agent.learning_starts=200", "--set", "train.device=cpu"]
HELP_OF = [
    [],
    ["data"],
    ["data", "list"],
    ["features"],
    ["regimes"],
    ["scenarios"],
    ["scenarios", "generate"],
    ["scenarios", "agreement"],
    ["train"],
    ["tune"],
    ["backtest"],
    ["demo"],
]


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and "Traceback" not in err
    return lines[0]


def _help(args: list[str], capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "250")  # no wrapping inside a list of choices
    assert run([*args, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("args", HELP_OF, ids=lambda a: " ".join(a) or "root")
def test_help_has_no_type_noise(args: list[str], capsys, monkeypatch) -> None:
    text = _help(args, capsys, monkeypatch)
    assert "Usage: regime-trader" in text
    for noise in ("<str>", "<bool>", "{", "}"):
        assert noise not in text, f"{noise!r} in --help of {args}"


def test_help_lists_the_choices(capsys, monkeypatch) -> None:
    train = _help(["train"], capsys, monkeypatch)
    assert "<tiny|small|full>" in train and "<mlp|enhanced|ensemble>" in train
    assert "--set SECTION.FIELD=VALUE" in train and "--force" in train
    assert "<grid|optuna|ray>" in _help(["tune"], capsys, monkeypatch)
    generate = _help(["scenarios", "generate"], capsys, monkeypatch)
    assert "<uptrend|downtrend|plateau|oscillating|switching>" in generate
    assert "[OPTIONS] KIND" in generate
    assert "[OPTIONS] INPUT" in _help(["features"], capsys, monkeypatch)
    assert "--version" in _help([], capsys, monkeypatch)


def test_choices_are_the_library_s() -> None:
    from regime_trader.scenarios import SCENARIO_KINDS
    from regime_trader.tuning.run import BACKENDS

    assert [c.value for c in BudgetChoice] == list(get_args(Budget))
    assert [c.value for c in NetChoice] == list(
        get_args(AgentConfig.model_fields["net"].annotation)
    )
    assert [c.value for c in BackendChoice] == list(BACKENDS)
    assert [c.value for c in ScenarioChoice] == list(SCENARIO_KINDS)


def test_version(capsys) -> None:
    assert run(["--version"]) == 0
    expected = importlib.metadata.version("regime-trader")
    assert capsys.readouterr().out.strip() == f"regime-trader {expected}"


def test_no_private_typer_module_and_no_argparse() -> None:
    import regime_trader.scenarios.agreement as agreement

    for path in CLI_SRC.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"typer\._", text), path
    assert not hasattr(agreement, "main")
    assert "argparse" not in Path(agreement.__file__).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["train", "--net", "bogus", "--out"],
            "'bogus' is not one of 'mlp', 'enhanced', 'ensemble'",
        ),
        (["tune", "--backend", "nope", "--trials", "1", "--out"], "'nope' is not one of 'grid'"),
        (
            ["demo", "--budget", "huge", "--out-root"],
            "'huge' is not one of 'tiny', 'small', 'full'",
        ),
        (["scenarios", "generate", "sideways", "--out"], "'sideways' is not one of 'uptrend'"),
    ],
)
def test_bad_choice_exits_2(args: list[str], expected: str, tmp_path: Path, capsys) -> None:
    assert run([*args, str(tmp_path / "x")]) == 2
    assert expected in _error_line(capsys.readouterr().err)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("agnet.lr=1", "unknown section 'agnet'; did you mean 'agent'?"),
        ("agent.hiden=[64]", "section 'agent' has no field 'hiden'; did you mean 'hidden'?"),
        ("train.lr=0.1", "did you mean 'agent.lr'?"),
        ("agent.lr=-1", "field 'agent.lr'"),
        ("agent.hidden=[64,", "not valid YAML"),
        ("total_steps=10", "expected section.field=value"),
    ],
)
@pytest.mark.parametrize("command", ["train", "tune", "demo"])
def test_bad_set_exits_2_with_one_line(
    command: str, setting: str, expected: str, tmp_path: Path, capsys
) -> None:
    extra = {
        "train": ["--out", str(tmp_path / "run")],
        "tune": ["--out", str(tmp_path / "run"), "--backend", "grid", "--trials", "1"],
        "demo": ["--out-root", str(tmp_path / "run")],
    }[command]
    assert run([command, *extra, "--set", setting]) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"--set '{setting}'" in line and expected in line
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def set_run(tmp_path_factory, ohlcv_factory, csv_writer) -> tuple[Path, list[str], str]:
    """A run trained through `--set`, progress on, stdout not a terminal: its folder, args, stdout."""
    root = tmp_path_factory.mktemp("set")
    csv = csv_writer(ohlcv_factory(600, seed=3), root / "bars.csv")
    run_dir = root / "RUN"
    args = [*TINY, "--set", "agent.hidden=[32,32]", "--set", "env.allow_short=true"]
    args += ["--set", "data.start=2010-01-05", "--set", "reward.kind=regime"]
    args += ["--data", str(csv), "--out", str(run_dir)]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = run(["train", *args])
    assert code == 0, stdout.getvalue()
    return run_dir, args, stdout.getvalue()


def test_set_reaches_the_run(set_run) -> None:
    run_dir, _, _ = set_run
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["agent"]["hidden"] == [32, 32]
    assert cfg["env"]["allow_short"] is True
    assert cfg["data"]["start"] == "2010-01-05"
    assert cfg["reward"]["kind"] == "regime"
    assert cfg["train"]["total_steps"] == 2000


def test_non_terminal_stdout_gets_one_line_per_validation(set_run) -> None:
    run_dir, _, out = set_run
    lines = [line for line in out.splitlines() if line.startswith("training ")]
    log = (run_dir / "train_log.jsonl").read_text(encoding="utf-8").splitlines()
    validations = [json.loads(v) for v in log if "eval/val_sharpe" in v]
    assert len(lines) == len(validations) == 2
    pattern = r"training [\d,]+/2,000 steps  [\d,]+ steps/s  eps \d\.\d\d  loss \S+  val Sharpe \S+"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert "━" not in out and "\r" not in out  # no progress bar
    assert "INFO" not in out


@pytest.mark.slow  # ~2 s on two busy cores
def test_train_refuses_an_existing_run_unless_force(set_run, capsys) -> None:
    run_dir, args, _ = set_run
    before = (run_dir / "model.safetensors").read_bytes()
    assert run(["train", *args, "--quiet"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert str(run_dir.name) in line and "--force" in line
    assert (run_dir / "model.safetensors").read_bytes() == before
    assert run(["train", *args, "--set", "train.seed=7", "--force", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "run folder" in out and "val Sharpe" not in out  # --quiet: no progress lines
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["train"]["seed"] == 7


def test_resume_takes_no_force_or_set(tmp_path: Path, capsys) -> None:
    for extra in (["--force"], ["--set", "train.seed=1"]):
        assert run(["train", "--resume", str(tmp_path), *extra]) == 2
        assert "--resume RUN_DIR takes no other options" in _error_line(capsys.readouterr().err)


def test_scenarios_agreement_subcommand(capsys) -> None:
    assert run(["scenarios", "agreement", "--seed", "2", "--seeds", "2", "--bars", "400"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| kind | seed 2 | seed 3 | mean |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [f"| {k.value}" for k in ScenarioChoice]


@pytest.mark.parametrize(
    ("setting", "section", "field", "expected"),
    [
        ("agent.hidden=[64, 64]", "agent", "hidden", (64, 64)),
        ("env.allow_short=true", "env", "allow_short", True),
        ("agent.lr=3e-4", "agent", "lr", 3e-4),
        ("data.source=2020", "data", "source", "2020"),  # a string field keeps the text
        ("data.end=2018-06-30", "data", "end", "2018-06-30"),
        ("data.end=null", "data", "end", None),
        ("features.timeframes=W,ME", "features", "timeframes", ("W", "ME")),
        ("tracking.backend=none", "tracking", "backend", "none"),
    ],
)
def test_set_values_follow_yaml_rules(setting, section, field, expected) -> None:
    from regime_trader.api import load_config

    cfg = load_config(None, budget="tiny", sets=[setting, "train.total_steps=1234"])
    assert getattr(getattr(cfg, section), field) == expected
    assert cfg.train.total_steps == 1234  # --set wins over --budget
