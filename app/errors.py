"""The service's error vocabulary. Each error says how an HTTP caller sees it.

A class declares `http_status` and `public_code` (the `error` of the `{error, detail}` body that
app/api/errors.py renders for every AppError); a subclass that declares neither inherits its
parent's. The names are not `status`/`code` because vendor errors already carry the vendor's
status and code as instance attributes (QboError.code is QuickBooks' own error code).

Defaults, for an error that reaches a request without saying how:
- AppError and PermanentError: 500 `internal_error`, the message only in the log. An error
  nobody declared for HTTP is unexpected there (permanent errors belong to the job runner).
- TransientError: 503 `unavailable` with Retry-After, like a database outage: retry later.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

UNEXPECTED_DETAIL = "the service failed unexpectedly; its log has the details"


class AppError(Exception):
    """Base for errors the service raises on purpose."""

    http_status: ClassVar[int] = 500
    public_code: ClassVar[str] = "internal_error"

    def public_detail(self) -> str:
        """The `detail` a caller reads: the message, unless the status hides it (5xx)."""
        return str(self) if self.http_status < 500 else UNEXPECTED_DETAIL

    def public_fields(self) -> dict[str, Any]:
        """Fields added to `{error, detail}` (e.g. `errors`, `reason`)."""
        return {}

    def public_headers(self) -> dict[str, str]:
        return {}


class PermanentError(AppError):
    """Retrying cannot help until a person changes something; never retried by the worker."""


class TransientError(AppError):
    """Worth retrying later; `retry_after_s` is the least wait the cause asked for."""

    http_status = 503
    public_code = "unavailable"
    DEFAULT_RETRY_AFTER_S: ClassVar[int] = 5

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def public_detail(self) -> str:
        return "a service this request needs is unavailable; retry later"

    def public_headers(self) -> dict[str, str]:
        # getattr: a subclass may set up its fields without calling this __init__.
        wait: float | None = getattr(self, "retry_after_s", None)
        seconds = math.ceil(wait) if wait is not None and wait > 0 else self.DEFAULT_RETRY_AFTER_S
        return {"Retry-After": str(seconds)}
