"""The layer rule of docs/architecture.md, enforced: every import inside the package (at the
top of a module or inside a function) goes to the same top-level package or a lower layer.
So there are no import cycles between packages, and nothing imports the `api` facade."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "regime_trader"

# Lowest first. A module may import its own package and anything on an earlier line.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "version"),
    ("utils",),
    ("config_sections",),
    ("config", "presets"),
    ("config_docs", "overrides", "types"),
    ("data",),
    ("features",),
    ("regimes",),
    ("scenarios", "frames"),
    ("envs",),
    ("nets", "replay"),
    ("agents",),
    ("policy",),
    ("training",),
    ("tuning", "evaluation"),
    ("monitoring",),
    ("package",),
    ("registry",),
    ("serve",),
    ("workflows",),
    ("cli", "api"),
    ("__init__", "__main__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _unit(module: str) -> str:
    """Top-level unit of ``regime_trader.X[.Y]``: ``X`` (the root package: ``__init__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "regime_trader":  # `from regime_trader import x`
                names = [f"regime_trader.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.split(".")[0] == "regime_trader"]
    return out


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


def _own_unit(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_unit_has_a_layer() -> None:
    units = {_own_unit(p) for p in _modules()}
    missing = sorted(units - set(RANK))
    assert not missing, f"add {missing} to LAYERS in tests/test_architecture.py"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_downward(path: Path) -> None:
    own = _own_unit(path)
    bad = []
    for line, module in _imports(path):
        target = _unit(module)
        if target == own:
            continue
        if target == "api" or RANK.get(target, len(LAYERS)) >= RANK[own]:
            bad.append(f"line {line}: {module} ({target} is not below {own})")
    assert not bad, f"{path.relative_to(ROOT)} imports upward: " + "; ".join(bad)


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    """The rule can fail: a policy module importing serve is reported."""
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from regime_trader.serve import app\n")
    assert _imports(fake) == [(2, "regime_trader.serve")]
    assert RANK[_unit("regime_trader.serve")] > RANK["policy"]
