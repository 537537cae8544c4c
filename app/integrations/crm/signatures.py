"""Signing and verification of CRM ↔ service requests (docs/design.md §2.1, §2.4).

Header: ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>``.
Several ``v1=`` entries and several secrets are accepted so either side can rotate its secret
without a window of rejected requests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Any, Literal

from app.errors import AppError

SIGNATURE_HEADER = "X-Signature"
DEFAULT_TOLERANCE_S = 300

# Bounds the work an unauthenticated caller can make us do per request.
MAX_SIGNATURES = 8
MAX_HEADER_LENGTH = 1024

SignatureFailure = Literal["missing", "malformed", "stale", "future", "mismatch"]

_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_V1_RE = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(AppError):
    """The request is not provably from the CRM; ``reason`` is safe to log and to return."""

    http_status = 401
    public_code = "invalid_signature"

    def __init__(self, reason: SignatureFailure, message: str) -> None:
        super().__init__(message)
        self.reason: SignatureFailure = reason
        self.message = message

    def public_fields(self) -> dict[str, Any]:
        return {"reason": self.reason}


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Return the ``X-Signature`` header value for ``body`` sent at ``timestamp``."""
    if not secret:
        raise ValueError("a signing secret is required")
    if timestamp < 0:
        raise ValueError("timestamp must be a non-negative number of unix seconds")
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def _parse_header(header: str | None) -> tuple[int, list[str]]:
    if header is None or not header.strip():
        raise SignatureError("missing", f"{SIGNATURE_HEADER} header is missing")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} header is too long")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed", f"{SIGNATURE_HEADER} entries must be key=value")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
        # Other keys (future schemes such as v2) are ignored, as Stripe-style headers intend.
    return _check_timestamp(timestamps), _check_signatures(signatures)


def _check_timestamp(values: list[str]) -> int:
    if len(values) != 1:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} needs exactly one t= entry")
    if not _TIMESTAMP_RE.fullmatch(values[0]):
        raise SignatureError("malformed", "t= must be an integer number of unix seconds")
    return int(values[0])


def _check_signatures(values: list[str]) -> list[str]:
    if not values:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} has no v1= entry")
    if len(values) > MAX_SIGNATURES:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} has too many v1= entries")
    if not all(_V1_RE.fullmatch(value) for value in values):
        raise SignatureError("malformed", "v1= must be 64 hexadecimal characters")
    return [value.lower() for value in values]


def _matches_any(secrets: Sequence[str], body: bytes, timestamp: int, given: list[str]) -> bool:
    matched = False
    # No early exit: the time taken must not reveal which secret or entry matched.
    for secret in secrets:
        expected = _digest(secret, body, timestamp)
        for candidate in given:
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def verify(
    secrets: Sequence[str],
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with one of ``secrets``.

    The digest is checked before the clock so that "stale"/"future" is only ever reported for a
    genuine request, which is what someone debugging clock skew needs to know.
    Raises ``ValueError`` (a configuration fault, not a bad request) when no secret is usable.
    """
    usable = [secret for secret in secrets if secret]
    if not usable:
        raise ValueError("no CRM signing secret is configured")
    timestamp, given = _parse_header(header)
    if not _matches_any(usable, body, timestamp, given):
        raise SignatureError("mismatch", "signature does not match the request body")
    skew = now - timestamp
    if skew > tolerance_s:
        raise SignatureError("stale", f"signature timestamp is more than {tolerance_s} s old")
    if skew < -tolerance_s:
        raise SignatureError(
            "future", f"signature timestamp is more than {tolerance_s} s in the future"
        )
