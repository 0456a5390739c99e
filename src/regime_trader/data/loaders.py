"""Load OHLCV bars from a bundled dataset name or a CSV / CSV.gz / Parquet file, and save them."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import pandas as pd

from regime_trader.data.datasets import bundled_names, dataset_path
from regime_trader.data.validation import normalize_ohlcv, validate_ohlcv
from regime_trader.errors import DataError
from regime_trader.utils.io import atomic_write

READ_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
"""Field separators a CSV may use; the one found most often in the header wins."""
SAVE_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")


def load_ohlcv(
    source: str | os.PathLike[str],
    *,
    validate: bool = True,
    min_rows: int = 1,
    use_adj_close: bool = False,
) -> pd.DataFrame:
    """Load an OHLCV frame that meets the package contract.

    Args:
        source: A bundled dataset name (``"spx"``, see ``list_datasets``) or a path to a
            ``.csv``, ``.csv.gz`` or ``.parquet`` file. Column spellings such as a Yahoo export
            (``Date,Open,High,Low,Close,Adj Close,Volume``) are accepted.
        validate: Run every row rule of ``validate_ohlcv``. When False the frame is only
            normalised (columns, UTC index, float64); use it to inspect a file that fails a rule.
        min_rows: Fewest rows accepted (checked only when ``validate``).
        use_adj_close: Use ``Adj Close`` as ``close`` and scale ``open``/``high``/``low``.

    Returns:
        Frame with a UTC ``DatetimeIndex`` named ``timestamp`` and float64 columns
        ``open, high, low, close, volume``.

    Raises:
        DataError: Unknown name, missing file, unsupported extension, unreadable file, or a
            broken OHLCV rule; the message names the file.
    """
    path, label = _resolve(source)
    raw = _read(path, label)
    if validate:
        return validate_ohlcv(raw, source=label, min_rows=min_rows, use_adj_close=use_adj_close)
    return normalize_ohlcv(raw, source=label, use_adj_close=use_adj_close)


def save_frame(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a frame atomically to ``.parquet``, ``.csv`` or ``.csv.gz`` (chosen by extension).

    The index is written too (as the ``timestamp`` column for an unnamed ``DatetimeIndex``), so
    ``load_ohlcv(path)`` reads back the same frame.

    Args:
        df: Frame to write (normally an OHLCV frame).
        path: Destination file; its parent directory is created.

    Returns:
        The written path.

    Raises:
        DataError: If the extension is not one of ``.parquet``, ``.csv``, ``.csv.gz``.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix not in SAVE_SUFFIXES:
        raise DataError(
            f"{path}: cannot save a '{suffix or path.suffix or '(none)'}' file. "
            f"Use one of {', '.join(SAVE_SUFFIXES)}."
        )
    frame = df
    if isinstance(df.index, pd.DatetimeIndex) and df.index.name is None:
        frame = df.rename_axis("timestamp")
    if suffix == ".parquet":
        return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=True))
    gzip = suffix == ".csv.gz"
    return atomic_write(
        path, lambda tmp: frame.to_csv(tmp, index=True, compression="gzip" if gzip else None)
    )


def _suffix(path: Path) -> str:
    """Return the supported suffix of ``path`` (``.csv.gz`` counts as one), lower case."""
    name = path.name.lower()
    for suffix in (".csv.gz", ".csv", ".parquet"):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _resolve(source: str | os.PathLike[str]) -> tuple[Path, str]:
    """Turn a dataset name or path into ``(file, label for messages)``."""
    if isinstance(source, str) and source.lower() in bundled_names():
        path = dataset_path(source)
        return path, f"bundled dataset '{source.lower()}' ({path.name})"
    path = Path(source)
    names = ", ".join(bundled_names())
    if not path.exists():
        if isinstance(source, str) and not path.suffix and len(path.parts) == 1:
            raise DataError(
                f"unknown dataset '{source}' (no such bundled name or file); bundled datasets: "
                f"{names}. Pass one of these names or a path to a .csv, .csv.gz or .parquet file."
            )
        raise DataError(
            f"{path}: file not found. Check the path, or use a bundled dataset: {names}."
        )
    if not path.is_file():
        raise DataError(f"{path}: not a file. Pass a .csv, .csv.gz or .parquet file.")
    if _suffix(path) not in READ_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type '{path.suffix or '(none)'}'. "
            f"Use a {', '.join(READ_SUFFIXES)} file, or a bundled dataset: {names}."
        )
    return path, str(path)


def _read(path: Path, label: str) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every reader failure into a DataError."""
    try:
        if _suffix(path) == ".parquet":
            return pd.read_parquet(path)
        sep, decimal = sniff_csv(path)
        return pd.read_csv(path, sep=sep, decimal=decimal)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{label}: file is empty. Expected a header row and OHLCV rows.") from exc
    except Exception as exc:  # any reader failure: show the file, not a pandas traceback
        kind = "Parquet" if _suffix(path) == ".parquet" else "CSV"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{label}: cannot read as {kind} ({type(exc).__name__}: {reason}). "
            f"Check the file is a valid {kind} with columns timestamp,open,high,low,close,volume."
        ) from exc


def sniff_csv(path: Path) -> tuple[str, str]:
    """Guess the field separator and decimal mark of a CSV (or CSV.gz) from its first lines.

    The separator is the one of :data:`DELIMITERS` most frequent in the header (a comma when
    none occurs). With a ``;`` or tab separator, numbers written like ``1234,5`` in the first
    data rows mean a decimal comma (the usual European spreadsheet export).

    Returns:
        ``(sep, decimal)`` for ``pandas.read_csv``.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            lines = [line for _, line in zip(range(6), fh, strict=False)]
    except (OSError, EOFError):  # a broken file: let read_csv report it
        return ",", "."
    header = lines[0] if lines else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    sep = max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    rows = "".join(lines[1:])
    decimal = "," if sep != "," and re.search(r"\d,\d", rows) else "."
    return sep, decimal
