"""Errors a user can act on. The CLI prints their message on one line and exits with code 2."""


class RegimeTraderError(Exception):
    """Base class: bad input or usage that the user can fix."""


class DataError(RegimeTraderError, ValueError):
    """Input market data is missing, malformed or violates an OHLCV rule.

    The message names the file (or frame), the column or row, the rule, and what to do.
    """


class ConfigError(RegimeTraderError, ValueError):
    """A configuration file or option is invalid; the message names the field."""
