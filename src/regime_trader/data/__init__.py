"""OHLCV data: bundled real series, CSV/Parquet loading, validation and chronological splits."""

from regime_trader.data.datasets import DatasetInfo, dataset_path, dataset_split, list_datasets
from regime_trader.data.loaders import load_ohlcv, save_frame
from regime_trader.data.splits import Split, chronological_split
from regime_trader.data.validation import validate_ohlcv

__all__ = [
    "DatasetInfo",
    "Split",
    "chronological_split",
    "dataset_path",
    "dataset_split",
    "list_datasets",
    "load_ohlcv",
    "save_frame",
    "validate_ohlcv",
]
