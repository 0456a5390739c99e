"""Validate and normalise OHLCV frames to the package contract ("OHLCV frame").

Output: a ``DatetimeIndex`` named ``timestamp``, UTC, nanosecond unit, strictly increasing;
float64 columns ``open high low close volume`` (``volume`` may be all-NaN for quote data). Checks
are vectorised; a ``DataError`` names the source, rule, count, first rows and the fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from regime_trader.errors import DataError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
OHLCV_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
REL_TOL = 1e-9
"""Relative tolerance of the high/low bracket checks (absorbs float rounding in real files)."""

_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "vol"),
    "adj_close": ("adjclose", "adjustedclose"),
}
_TIME_KEYS: tuple[str, ...] = ("timestamp", "datetime", "date", "time")
_MAX_SHOWN = 3


def validate_ohlcv(
    df: pd.DataFrame,
    *,
    source: str = "<frame>",
    min_rows: int = 1,
    use_adj_close: bool = False,
) -> pd.DataFrame:
    """Check an OHLCV table and return a new frame that meets the contract.

    Column names are matched case-insensitively, ignoring spaces, ``_`` and ``-`` (``Open``,
    ``HIGH``, ``Adj Close``, ``adj_close``). Timestamps come from a ``timestamp``, ``datetime``,
    ``date`` or ``time`` column (``Date`` + ``Time`` columns are joined), else from a
    ``DatetimeIndex``. Naive timestamps are taken as UTC; aware ones are converted to UTC.

    Args:
        df: Input table; it is not modified.
        source: Name of the file or frame, quoted in every error message.
        min_rows: Fewest rows accepted (e.g. the feature lookback plus one).
        use_adj_close: Use ``Adj Close`` as ``close`` and scale ``open``/``high``/``low`` by
            ``adj_close / close``. Otherwise an ``Adj Close`` column is ignored.

    Returns:
        The normalised frame: UTC ``DatetimeIndex`` named ``timestamp`` and float64 columns
        ``open, high, low, close, volume`` (``volume`` all-NaN when the input has none).

    Raises:
        DataError: On a missing column, unparseable timestamp, non-numeric/NaN/inf or
            non-positive price, ``high < max(open, close)``, ``low > min(open, close)``,
            duplicate or unsorted timestamps, negative volume, or fewer than ``min_rows`` rows.
    """
    return _build(df, source, min_rows, use_adj_close, check=True)


def normalize_ohlcv(
    df: pd.DataFrame, *, source: str = "<frame>", use_adj_close: bool = False
) -> pd.DataFrame:
    """Normalise columns, index and dtypes like :func:`validate_ohlcv`, skipping the row rules.

    Non-numeric values become NaN; use it to inspect a file that fails validation.

    Args:
        df: Input table; it is not modified.
        source: Name of the file or frame, quoted in error messages.
        use_adj_close: As in :func:`validate_ohlcv`.

    Returns:
        Frame with the contract's index and columns, possibly breaking its row rules.

    Raises:
        DataError: On a missing column or unparseable timestamp.
    """
    return _build(df, source, 0, use_adj_close, check=False)


def _build(
    df: pd.DataFrame, source: str, min_rows: int, use_adj_close: bool, *, check: bool
) -> pd.DataFrame:
    """Map columns, parse timestamps, convert to float and (if ``check``) apply every rule."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}.")
    cols = _map_columns(df, source, use_adj_close)
    index = _parse_timestamps(df, cols, source)
    if check:
        _check_length(index, min_rows, source)
        _check_order(index, source)
    names = [*PRICE_COLUMNS, "adj_close"] if use_adj_close else list(PRICE_COLUMNS)
    prices = {name: _to_float(df[cols[name]], name, index, source, check) for name in names}
    if check:
        _check_prices(prices, index, source)
    if use_adj_close:
        ratio = prices["adj_close"] / prices["close"]
        prices = {name: prices[name] * ratio for name in ("open", "high", "low")} | {
            "close": prices["adj_close"]
        }
    volume = np.full(len(index), np.nan)
    if "volume" in cols:
        volume = _to_float(df[cols["volume"]], "volume", index, source, check)
    if check:
        _check_bars(prices, volume, index, source)
    data = {name: prices[name] for name in PRICE_COLUMNS} | {"volume": volume}
    return pd.DataFrame(data, index=index, columns=list(OHLCV_COLUMNS), dtype="float64")


def _key(name: object) -> str:
    """Normalise a column name for matching: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _map_columns(df: pd.DataFrame, source: str, use_adj_close: bool) -> dict[str, object]:
    """Map canonical names (``open`` … ``adj_close``, time keys) to the frame's column labels."""
    by_key: dict[str, list[object]] = {}
    for col in df.columns:
        by_key.setdefault(_key(col), []).append(col)
    cols: dict[str, object] = {}
    for canon, keys in [*_ALIASES.items(), *((k, (k,)) for k in _TIME_KEYS)]:
        found = [col for k in keys for col in by_key.get(k, [])]
        if len(found) > 1:
            raise DataError(
                f"{source}: columns {found} all read as '{canon}' (rule: one column per field). "
                "Drop or rename all but one."
            )
        if found:
            cols[canon] = found[0]
    required = [*PRICE_COLUMNS, "adj_close"] if use_adj_close else list(PRICE_COLUMNS)
    for canon in required:
        if canon not in cols:
            raise DataError(_missing_message(canon, list(df.columns), source))
    return cols


def _missing_message(canon: str, found: list[object], source: str) -> str:
    """Build the 'column missing' message with the closest column names found."""
    target = canon.replace("_", "")
    keys = {_key(col): col for col in found}
    close = [keys[k] for k in keys if target in k or (len(k) > 2 and k in target)]
    close += [keys[k] for k in difflib.get_close_matches(target, list(keys), n=3, cutoff=0.6)]
    close = list(dict.fromkeys(close))
    label = "Adj Close" if canon == "adj_close" else canon
    hint = f" Add a '{label}' column (any case)."
    if close:
        hint = f" Closest: {', '.join(repr(str(c)) for c in close)} — rename it to '{label}'."
    shown = ", ".join(repr(str(c)) for c in found) or "no columns"
    seps = [s for s in (";", "\t", "|") if len(found) == 1 and s in str(found[0])]
    if seps:
        return (
            f"{source}: read as one column {shown}: the fields are separated by {seps[0]!r}, "
            f"not commas. Re-read with pd.read_csv(path, sep={seps[0]!r}) (load_ohlcv detects it "
            "in a file) or save the file comma-separated."
        )
    return f"{source}: required column '{label}' missing; found {shown}.{hint}"


def _parse_timestamps(df: pd.DataFrame, cols: dict[str, object], source: str) -> pd.DatetimeIndex:
    """Return the UTC timestamps of ``df`` from its time column(s) or its index."""
    if "timestamp" in cols or "datetime" in cols:
        raw = df[cols.get("timestamp", cols.get("datetime"))]
    elif "date" in cols and "time" in cols:
        raw = df[cols["date"]].astype(str) + " " + df[cols["time"]].astype(str)
    elif "date" in cols or "time" in cols:
        raw = df[cols.get("date", cols.get("time"))]
    elif isinstance(df.index, pd.DatetimeIndex) or _key(df.index.name) in _TIME_KEYS:
        raw = pd.Series(df.index)
    else:
        shown = ", ".join(repr(str(c)) for c in df.columns) or "no columns"
        raise DataError(
            f"{source}: no timestamps: no 'timestamp', 'date' or 'datetime' column (found {shown}) "
            "and the index is not a DatetimeIndex. Add a 'timestamp' column."
        )
    raw = raw.reset_index(drop=True)
    if raw.dtype.kind in "iufb":
        raise DataError(
            f"{source}: timestamps are numbers (e.g. {raw.iloc[0]!r}) (rule: timestamps must be "
            "dates). Convert them, e.g. pd.to_datetime(x, unit='ms', utc=True)."
        )
    parsed = _to_utc(raw)
    fix = "Fix or remove these rows; use ISO dates such as 2012-12-31 or 2012-12-31T14:30:00Z."
    show = _show(None, {"value": raw})
    _fail(source, "unparseable timestamps", parsed.isna().to_numpy(), show, fix)
    return pd.DatetimeIndex(parsed, name="timestamp").as_unit("ns")


def _to_utc(raw: pd.Series) -> pd.Series:
    """Parse timestamps to UTC; naive ones are taken as UTC. Unparseable values become NaT."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC")
    parsed = pd.to_datetime(raw, utc=True, errors="coerce")
    retry = parsed.isna() & raw.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(raw[retry], utc=True, errors="coerce", format="mixed")
    return parsed


def _to_float(
    col: pd.Series, name: str, index: pd.DatetimeIndex, source: str, strict: bool
) -> np.ndarray:
    """Convert a column to float64; if ``strict``, reject values present but not numbers."""
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if strict:
        bad = np.isnan(values) & col.notna().to_numpy()
        fix = "Remove thousands separators, currency signs or text from the column."
        _fail(source, f"non-numeric '{name}' values", bad, _show(index, {name: col}), fix)
    return values


def _check_length(index: pd.DatetimeIndex, min_rows: int, source: str) -> None:
    """Reject a series shorter than ``min_rows``."""
    if len(index) < min_rows:
        raise DataError(
            f"{source}: too few rows: {len(index)} < min_rows={min_rows} (rule: the series must "
            "cover at least the lookback). Provide a longer series or a shorter lookback."
        )


def _check_order(index: pd.DatetimeIndex, source: str) -> None:
    """Reject duplicate timestamps, then timestamps that go backwards."""
    n_dup = int(index.duplicated().sum())
    fix = f"Drop the {n_dup} repeated row(s), e.g. df[~df.index.duplicated()]."
    _fail(source, "duplicate timestamps", index.duplicated(keep=False), _show(index, {}), fix)
    back = np.concatenate([[False], index.asi8[1:] < index.asi8[:-1]])
    previous = {"previous row": index[np.maximum(np.arange(len(index)) - 1, 0)]}
    fix = "Sort by timestamp, e.g. df.sort_index() or df.sort_values('timestamp')."
    rule = "unsorted timestamps (each must be later than the row before)"
    _fail(source, rule, back, _show(index, previous), fix)


_FIX = "Fix these bars from the source or drop them (do not forward-fill prices)."


def _check_prices(prices: dict[str, np.ndarray], index: pd.DatetimeIndex, source: str) -> None:
    """Reject NaN/inf prices, then non-positive prices, column by column."""
    for name, v in prices.items():
        _fail(source, f"NaN/inf '{name}' prices", ~np.isfinite(v), _show(index, {name: v}), _FIX)
    for name, v in prices.items():
        rule = f"non-positive '{name}' prices (must be > 0)"
        _fail(source, rule, v <= 0, _show(index, {name: v}), _FIX)


def _check_bars(
    prices: dict[str, np.ndarray], volume: np.ndarray, index: pd.DatetimeIndex, source: str
) -> None:
    """Reject high/low that fail to bracket open and close (relative tolerance), bad volume."""
    top = np.maximum(prices["open"], prices["close"])
    bottom = np.minimum(prices["open"], prices["close"])
    high, low = prices["high"], prices["low"]
    fix = _FIX + " Check that the columns are not swapped."
    show = _show(index, {"high": high, "max(open, close)": top})
    _fail(source, "high < max(open, close)", high < top * (1.0 - REL_TOL), show, fix)
    show = _show(index, {"low": low, "min(open, close)": bottom})
    _fail(source, "low > min(open, close)", low > bottom * (1.0 + REL_TOL), show, fix)
    fix = "Fix these bars; leave volume empty where the source has none."
    bad = (volume < 0) | np.isinf(volume)
    _fail(source, "negative or infinite volume", bad, _show(index, {"volume": volume}), fix)


def _show(index: pd.DatetimeIndex | None, values: dict[str, Any]) -> Callable[[int], str]:
    """Return a describer of row ``p``: position, timestamp and the named values at ``p``."""

    def describe(p: int) -> str:
        row = f"row {p}" if index is None else f"row {p} ({index[p].isoformat()})"
        shown = [f"{k}={_item(v, p)!r}" for k, v in values.items()]
        return ": ".join([row, ", ".join(shown)]) if shown else row

    return describe


def _item(values: Any, p: int) -> Any:
    """Return element ``p`` of an array or Series as a plain Python value."""
    x = values.iloc[p] if isinstance(values, pd.Series) else values[p]
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    return x.item() if isinstance(x, np.generic) else x


def _fail(
    source: str, rule: str, bad: np.ndarray, describe: Callable[[int], str], fix: str
) -> None:
    """Raise a DataError naming the rule, the count and the first rows if any ``bad`` is set."""
    positions = np.flatnonzero(bad)
    if len(positions) == 0:
        return
    shown = "; ".join(describe(int(p)) for p in positions[:_MAX_SHOWN])
    more = f" (and {len(positions) - _MAX_SHOWN} more)" if len(positions) > _MAX_SHOWN else ""
    raise DataError(
        f"{source}: rule '{rule}' violated by {len(positions)} row(s) (0-based data rows); "
        f"first: {shown}{more}. {fix}"
    )
