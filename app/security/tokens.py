"""Encryption of OAuth tokens at rest (Fernet, rotatable) and signing of OAuth `state`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import SettingsError


def _fernet(key: str, position: int) -> Fernet:
    try:
        return Fernet(key.encode())
    except (ValueError, binascii.Error) as exc:
        raise SettingsError(
            f"TOKEN_ENCRYPTION_KEYS entry {position + 1} is not a Fernet key (32 url-safe "
            "base64-encoded bytes); make one with: python -c 'from cryptography.fernet import "
            "Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


class TokenCipher:
    """The first key encrypts; every key decrypts, so a new key can be put first at any time and
    each token is re-encrypted with it on its next write."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SettingsError("TOKEN_ENCRYPTION_KEYS is empty")
        self._fernet = MultiFernet([_fernet(key, n) for n, key in enumerate(keys)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise SettingsError(
                "a stored token cannot be decrypted with any of TOKEN_ENCRYPTION_KEYS; "
                "was a key removed before every token was re-encrypted?"
            ) from exc


class StateSigner:
    """Signs connect-attempt ids so a `state` cannot be forged or pointed at another attempt."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = [hashlib.sha256(b"qbo-sync/oauth-state/" + k.encode()).digest() for k in keys]

    def _mac(self, key: bytes, attempt: uuid.UUID) -> str:
        digest = hmac.new(key, attempt.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, attempt: uuid.UUID) -> str:
        return f"{attempt.hex}.{self._mac(self._keys[0], attempt)}"

    def verify(self, state: str) -> uuid.UUID | None:
        raw_id, _, mac = state.partition(".")
        try:
            attempt = uuid.UUID(hex=raw_id)
        except ValueError:
            return None
        valid = any(hmac.compare_digest(mac, self._mac(key, attempt)) for key in self._keys)
        return attempt if valid else None
