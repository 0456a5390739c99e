"""``--set section.field=value``: change any config field from the command line.

Values follow YAML scalar rules (``true``, ``null``, ``3e-4``, ``[64, 64]``); fields whose type
is a string take the text as written (so ``data.start=2016-01-01`` stays a date string). Every
change is validated by `Config` itself, and unknown names get a "did you mean" hint::

    >>> from regime_trader.config import Config
    >>> cfg = apply_sets(Config(), ["agent.hidden=[64,64]", "env.allow_short=true"])
    >>> cfg.agent.hidden, cfg.env.allow_short
    ((64, 64), True)
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic.fields import FieldInfo

from regime_trader.config import Config
from regime_trader.errors import ConfigError

EXAMPLE = "train.total_steps=2000"


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, else the list of choices."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; choose one of {', '.join(choices)}"


def _fields() -> dict[str, dict[str, FieldInfo]]:
    """``{section: {field: FieldInfo}}`` of `Config`."""
    return {
        name: info.annotation.model_fields  # type: ignore[union-attr]
        for name, info in Config.model_fields.items()
    }


def _takes_text(annotation: Any) -> bool:
    """Whether a field's type is a plain string (optionally ``| None``)."""
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args == [str]
    return False


def parse_set(text: str) -> tuple[str, str, Any]:
    """Split ``section.field=value`` into its parts, checking the names against `Config`.

    Args:
        text: One ``--set`` argument.

    Returns:
        ``(section, field, value)`` with ``value`` parsed by YAML scalar rules, or the raw text
        for string fields (``null`` still means None).

    Raises:
        ConfigError: malformed text, unknown section or field, value that is not valid YAML.
    """
    name, sep, raw = text.partition("=")
    section, dot, field = name.strip().partition(".")
    if not sep or not dot or not section or not field:
        raise ConfigError(f"--set '{text}': expected section.field=value, e.g. {EXAMPLE}")
    sections = _fields()
    if section not in sections:
        raise ConfigError(
            f"--set '{text}': unknown section '{section}'{_did_you_mean(section, sections)}"
        )
    fields = sections[section]
    if field not in fields:
        elsewhere = [f"{s}.{field}" for s, names in sections.items() if field in names]
        hint = f"; did you mean '{elsewhere[0]}'?" if elsewhere else _did_you_mean(field, fields)
        raise ConfigError(f"--set '{text}': section '{section}' has no field '{field}'{hint}")
    raw = raw.strip()
    if _takes_text(fields[field].annotation) and raw not in ("null", "~"):
        return section, field, raw
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        raise ConfigError(f"--set '{text}': value '{raw}' is not valid YAML") from None
    return section, field, value


def apply_sets(cfg: Config, sets: Iterable[str]) -> Config:
    """``cfg`` with each ``section.field=value`` applied in order, validated one at a time.

    Raises:
        ConfigError: see `parse_set`; or a value the field rejects (message names the field).
    """
    for text in sets:
        section, field, value = parse_set(text)
        raw = cfg.model_dump(mode="json")
        raw[section][field] = value
        cfg = Config.from_dict(raw, source=f"--set '{text}'")
    return cfg


__all__ = ["apply_sets", "parse_set"]
