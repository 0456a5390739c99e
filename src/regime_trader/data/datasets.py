"""Real market series shipped with the package, by name.

The files live in ``bundled/`` next to this module; ``bundled/README.md`` gives their provenance.
Listing them reads no file: the metadata below is checked against the files by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from regime_trader.errors import DataError

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of one bundled series.

    Attributes:
        name: Name passed to ``load_ohlcv`` (e.g. ``"spx"``).
        description: Instrument and what the series holds.
        bar: Bar length (``"1d"``, ``"1h"``, ``"1m"``).
        start: First bar open, ISO-8601 UTC.
        end: Last bar open, ISO-8601 UTC.
        rows: Number of bars.
        source: Where the data comes from (repository, path, commit).
        train_end: The dataset's own split: last training date (None: split by fractions).
        val_end: Last validation date of that split (test is the rest).
    """

    name: str
    description: str
    bar: str
    start: str
    end: str
    rows: int
    source: str
    train_end: str | None = None
    val_end: str | None = None


_DATASETS: dict[str, tuple[str, DatasetInfo]] = {
    "spx": (
        "spx.csv.gz",
        DatasetInfo(
            name="spx",
            description="S&P 500 index (^GSPC), Yahoo daily: dot-com crash, 2008, 2009-18 bull.",
            bar="1d",
            start="1999-01-04T00:00:00Z",
            end="2018-12-31T00:00:00Z",
            rows=5031,
            source="PyPI package arch 8.0.0, arch.data.sp500 (sp500.csv), Adj Close dropped",
            train_end="2012-12-31",
            val_end="2015-12-31",
        ),
    ),
    "aapl": (
        "aapl.csv.gz",
        DatasetInfo(
            name="aapl",
            description="Apple Inc. (AAPL), Yahoo daily, split-adjusted, not dividend-adjusted.",
            bar="1d",
            start="2004-08-19T00:00:00Z",
            end="2018-01-19T00:00:00Z",
            rows=3379,
            source="matplotlib/mplfinance examples/data/yahoofinance-AAPL-20040819-20180120.csv"
            " @ 493811dac9a203de7ec148fb95504e7d3f400ba5",
        ),
    ),
    "eurusd_1h": (
        "eurusd_1h.csv.gz",
        DatasetInfo(
            name="eurusd_1h",
            description="EUR/USD spot, OANDA bid quotes, hourly; no volume (all NaN).",
            bar="1h",
            start="2007-01-01T21:00:00Z",
            end="2018-12-31T21:00:00Z",
            rows=74439,
            source="QuantConnect/Lean Data/forex/oanda/hour/eurusd.zip"
            " @ 24863901deffa9ec7985e21ef8fbdb0258efb9e4",
        ),
    ),
    "btcusdt_1m": (
        "btcusdt_1m.csv.gz",
        DatasetInfo(
            name="btcusdt_1m",
            description="BTC/USDT spot, Binance.US, 1-minute, March 2023 (SVB, USDC de-peg).",
            bar="1m",
            start="2023-03-01T00:00:00Z",
            end="2023-03-21T23:59:00Z",
            rows=30240,
            source="cl8550-crypto/iaqf_analysis data/binance/raw/BTCUSDT_1m_20230301_20230321.csv"
            " @ dec296562857a799224179cb69bc0ff05ea454c9",
        ),
    ),
}


def bundled_names() -> list[str]:
    """Return the names of the bundled datasets, in listing order."""
    return list(_DATASETS)


def list_datasets() -> list[DatasetInfo]:
    """Return the metadata of every bundled dataset (reads no file)."""
    return [info for _, info in _DATASETS.values()]


def dataset_split(name: str) -> dict[str, str | None]:
    """The split dates a bundled dataset carries, as ``DataConfig`` fields.

    Args:
        name: Dataset name, case-insensitive.

    Returns:
        ``{"train_end": ..., "val_end": ...}``: the dataset's own dates (spx: train to
        2012-12-31, validate 2013-2015, test 2016 on), or both None (split by fractions).

    Raises:
        DataError: If ``name`` is not a bundled dataset.
    """
    dataset_path(name)  # validates the name
    info = _DATASETS[str(name).lower()][1]
    return {"train_end": info.train_end, "val_end": info.val_end}


def dataset_path(name: str) -> Path:
    """Return the file of a bundled dataset.

    Args:
        name: Dataset name, case-insensitive (see :func:`list_datasets`).

    Returns:
        Path to the gzip CSV inside the installed package.

    Raises:
        DataError: If ``name`` is not a bundled dataset.
    """
    key = str(name).lower()
    if key not in _DATASETS:
        raise DataError(
            f"unknown dataset '{name}'; bundled datasets: {', '.join(_DATASETS)}. "
            "Pass one of these names or a path to a .csv, .csv.gz or .parquet file."
        )
    return BUNDLED_DIR / _DATASETS[key][0]
