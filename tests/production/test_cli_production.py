"""`regime-trader package | registry ... | abtest` as a user runs them: output and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from regime_trader.cli import run


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_package_command(run_a: Path, tmp_path: Path, capsys) -> None:
    pkg = tmp_path / "pkg"
    code, out, _ = _run(capsys, "package", run_a, "--out", pkg, "--version", "2.1.0")
    assert code == 0 and "packaged run_a 2.1.0" in out
    assert json.loads((pkg / "metadata.json").read_text())["version"] == "2.1.0"
    code, _, err = _run(capsys, "package", run_a, "--out", pkg)
    assert code == 2 and err.count("\n") == 1 and "already exists" in err
    code, _, err = _run(capsys, "package", tmp_path / "nope", "--out", tmp_path / "p2")
    assert code == 2 and "not a trained run folder" in err


def test_registry_commands_local(package_a, package_b, tmp_path, capsys) -> None:
    reg = ("--registry", tmp_path / "reg", "--backend", "local")
    assert _run(capsys, "registry", "register", package_a, "--name", "spx", *reg)[0] == 0
    code, out, _ = _run(capsys, "registry", "register", package_b, "--name", "spx", *reg)
    assert code == 0 and "spx version 2" in out
    assert _run(capsys, "registry", "promote", "spx", "1", "--reason", "first", *reg)[0] == 0
    code, out, _ = _run(capsys, "registry", "promote", "spx", "2", "--reason", "new", *reg)
    assert code == 0 and "version 2 is now 'champion'" in out
    code, out, _ = _run(capsys, "registry", "list", *reg)
    assert code == 0 and "champion" in out and "1.1.0" in out
    code, out, _ = _run(capsys, "registry", "rollback", "spx", "--reason", "drawdown", *reg)
    assert code == 0 and "rolled back to version 1" in out
    code, _, err = _run(capsys, "registry", "rollback", "spx", *reg)
    assert code == 2 and "no previous version" in err
    code, _, err = _run(capsys, "registry", "promote", "spx", "9", "--reason", "x", *reg)
    assert code == 2 and "no version or alias '9'" in err


def test_register_refuses_a_tampered_package(package_a, tmp_path, capsys) -> None:
    bad = Path(shutil.copytree(package_a, tmp_path / "bad"))
    raw = bytearray((bad / "model.safetensors").read_bytes())
    raw[100] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(raw))
    code, _, err = _run(capsys, "registry", "register", bad, "--registry", tmp_path / "r",
                        "--backend", "local")  # fmt: skip
    assert code == 2 and "model.safetensors" in err and err.count("\n") == 1


def test_abtest_command(package_a, bars_csv, tmp_path, capsys) -> None:
    out_dir = tmp_path / "ab"
    code, out, _ = _run(capsys, "abtest", package_a, package_a, "--data", bars_csv, "--runs",
                        "2", "--out", out_dir)  # fmt: skip
    assert code == 0 and "keep" in out and "2 runs detect only d_z >=" in out
    assert (out_dir / "abtest.json").is_file() and (out_dir / "results.parquet").is_file()
    code, _, err = _run(capsys, "abtest", package_a, "--data", bars_csv)
    assert code == 2 and "at least two models" in err
    code, _, err = _run(capsys, "abtest", package_a, package_a, "--data", bars_csv,
                        "--runs", "500")  # fmt: skip
    assert code == 2 and ("too short" in err or "need more than" in err)
