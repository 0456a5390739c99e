"""Helpers shared by the CLI snapshot tests (`test_cli_help`, `test_cli_messages`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def check_snapshot(path: Path, text: str) -> None:
    """``text`` equals the snapshot at ``path`` (``UPDATE_SNAPSHOTS=1``: rewrite it)."""
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path.name}: no snapshot yet; written, review and commit it")
    assert text == path.read_text(encoding="utf-8"), (
        f"{path} differs; UPDATE_SNAPSHOTS=1 rewrites it after an intended change"
    )
