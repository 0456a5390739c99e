"""Keep local folders out of what the service tells clients (`/v1/model`, reload errors).

A value that is a filesystem path becomes its last part (``/srv/models/spx-v2`` ->
``spx-v2``, ``data/bars.csv`` -> ``bars.csv``); inside a sentence, an absolute path does too.
URLs and registry references (``registry:spx@champion``) stay as they are.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
_IN_TEXT = re.compile(
    r"(?<![\w:/.])(?:~|[A-Za-z]:)?[/\\](?:[^\s'\"/\\,;()]+[/\\])*([^\s'\",;()/\\]+)"
)


def is_path(text: str) -> bool:
    """True for a string that names a file or folder (not a URL, not a sentence)."""
    if _SCHEME.match(text) or any(c.isspace() for c in text):
        return False
    return "/" in text or "\\" in text or text.startswith("~")


def last_part(text: str) -> str:
    """The file or folder name at the end of a path."""
    pure = PureWindowsPath(text) if _WINDOWS.match(text) or "\\" in text else PurePosixPath(text)
    return pure.name or text.strip("/\\") or "/"


def redact(value: Any) -> Any:
    """``value`` (JSON-like) with every path cut to its last part."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    if is_path(text):
        return last_part(text)
    if _SCHEME.search(text):
        return text  # a sentence with a URL: leave it whole
    return _IN_TEXT.sub(lambda m: m.group(1), text)
