"""Shared by the benchmarks: write one benchmark's section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def replace_section(mark: str, section: str, path: Path = DOC) -> None:
    """Replace the text between the two ``mark`` lines of ``path`` with ``section`` (which
    starts and ends with ``mark``), or append it; other sections stay as they are."""
    section = section.strip()
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if text.count(mark) >= 2:
        head, _, rest = text.partition(mark)
        _, _, tail = rest.partition(mark)
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
