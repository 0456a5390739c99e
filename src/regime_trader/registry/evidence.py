"""A/B evidence for a promotion: the `abtest` summary must say "promote" for this package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regime_trader.errors import ConfigError
from regime_trader.utils.io import sha256_file


def _read(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / "abtest.json"
    if not path.is_file():
        raise ConfigError(
            f"evidence '{path}' not found (the abtest.json of `regime-trader abtest`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ConfigError(f"{path}: not valid JSON") from None
    if not isinstance(data, dict) or data.get("kind") != "abtest":
        raise ConfigError(f"{path}: not an abtest summary (written by `regime-trader abtest`)")
    return data


def check_evidence(path: str | Path, package_sha256: str, force: bool = False) -> dict[str, Any]:
    """The summary of an A/B evidence file for the package with ``package_sha256``.

    Raises:
        ConfigError: not an abtest summary; or (unless ``force``) the package is not a
            challenger in it, or its verdict is not "promote".
    """
    path = Path(path)
    data = _read(path)
    labels = {m["label"]: m for m in data.get("models", [])}
    match = [
        c
        for c in data.get("comparisons", [])
        if labels.get(c["challenger"], {}).get("package_sha256") == package_sha256
    ]
    file = path / "abtest.json" if path.is_dir() else path
    summary: dict[str, Any] = {"file": str(file.resolve()), "sha256": sha256_file(file)}
    if not match:
        if not force:
            raise ConfigError(
                f"{file}: this version's package is not a challenger in the A/B test "
                "(run `regime-trader abtest CHAMPION THIS_PACKAGE`, or pass --force)"
            )
        return {**summary, "verdict": None}
    comp = match[0]
    if comp["verdict"] != "promote" and not force:
        raise ConfigError(
            f"{file}: the A/B verdict for this package is '{comp['verdict']}' "
            f"({comp.get('reason', '')}); promote anyway only with --force"
        )
    keep = ("verdict", "reason", "metric", "mean_diff", "p_value", "p_holm", "sharpe_ci", "n_runs")
    return {
        **summary,
        **{k: comp.get(k) for k in keep},
        "champion": labels.get(comp["champion"], {}).get("name"),
    }
