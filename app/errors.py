"""The service's error vocabulary; HTTP mapping lives in app/api/errors.py."""

from __future__ import annotations


class AppError(Exception):
    """Base for errors the service raises on purpose."""


class PermanentError(AppError):
    """Retrying cannot help until a person changes something; never retried by the worker."""


class TransientError(AppError):
    """Worth retrying later; `retry_after_s` is the least wait the cause asked for."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
