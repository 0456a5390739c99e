"""Why the service refuses a request; `serve.handlers` gives each its HTTP answer.

Every refusal names what to fix and leaves the service's state unchanged:

========================  ======  ===========================================================
error                     status  when
========================  ======  ===========================================================
`FieldError`              422     a field of the body is wrong (the field is named)
`SessionOrderError`       409     a stream bar out of order or after a gap
`QuarantinedError`        409     a session whose bar log fails its checksums
`RequestIdConflict`       409     a request id re-used for a different bar
`ReloadError`             409     ``POST /v1/reload`` could not load the package (file named)
`SessionLimitError`       429     no room for another session in memory
`StorageError`            503     the bar log cannot be read or written (disk full, ...)
========================  ======  ===========================================================
"""

from __future__ import annotations

from regime_trader.errors import DataError, RegimeTraderError


class FieldError(DataError):
    """One field of a request is refused (HTTP 422 naming it); nothing changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class SessionOrderError(DataError):
    """A bar out of order or after a gap: refused, the session unchanged (HTTP 409)."""


class QuarantinedError(RegimeTraderError):
    """A session whose bar log fails its checksums: never replayed (HTTP 409)."""


class RequestIdConflict(RegimeTraderError):
    """A request id already used in this session for a different bar (HTTP 409)."""


class ReloadError(RegimeTraderError):
    """The package behind the spec could not be loaded; the old model keeps serving (409)."""


class SessionLimitError(RegimeTraderError):
    """No room for one more session in memory (HTTP 429); retry later."""


class StorageError(RegimeTraderError):
    """The bar log could not be written or read (HTTP 503); the bar was not consumed."""
