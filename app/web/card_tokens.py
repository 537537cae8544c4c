"""Card links: a location id and an expiry, signed so the URL alone grants access until then.

The token is the only credential the card page has (it is opened from the CRM, without the
CRM's API key), so it is also the CSRF token of every form on the card.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CARD_TTL = timedelta(minutes=30)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class CardGrant:
    location_id: str
    expires_at: datetime


class CardSigner:
    """HMAC-SHA256 over "location_id|expires_at"; the first key signs, every key verifies."""

    def __init__(self, keys: Sequence[str]) -> None:
        # A purpose-specific key, so a card token can never pass as an OAuth state or vice versa.
        self._keys = [hashlib.sha256(b"qbo-sync/card-link/" + k.encode()).digest() for k in keys]

    def _mac(self, key: bytes, location_id: str, expires: int) -> str:
        message = f"{location_id}|{expires}".encode()
        return _b64encode(hmac.new(key, message, hashlib.sha256).digest())

    def issue(self, location_id: str, now: datetime | None = None) -> tuple[str, datetime]:
        expires_at = (now or datetime.now(UTC)) + CARD_TTL
        expires = int(expires_at.timestamp())
        mac = self._mac(self._keys[0], location_id, expires)
        token = f"{_b64encode(location_id.encode())}.{expires}.{mac}"
        return token, datetime.fromtimestamp(expires, UTC)

    def verify(self, token: str, now: datetime | None = None) -> CardGrant | None:
        """The grant, or None when the token is malformed, forged or expired."""
        raw_location, _, rest = token.partition(".")
        raw_expires, _, mac = rest.partition(".")
        if not raw_expires.isascii():  # int() reads "١٢٣" too: one token, one spelling
            return None
        try:
            location_id = _b64decode(raw_location).decode()
            expires = int(raw_expires)
            expires_at = datetime.fromtimestamp(expires, UTC)
        except (ValueError, binascii.Error, OverflowError, OSError):
            return None
        valid = any(
            hmac.compare_digest(mac.encode(), self._mac(key, location_id, expires).encode())
            for key in self._keys
        )
        if not valid or expires_at <= (now or datetime.now(UTC)):
            return None
        return CardGrant(location_id=location_id, expires_at=expires_at)
