"""The package version (one place; `regime_trader.__version__` re-exports it)."""

__version__ = "0.1.0"
