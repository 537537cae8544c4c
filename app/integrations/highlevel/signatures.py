"""HighLevel webhook signatures: Ed25519 ``X-GHL-Signature`` and the legacy RSA ``X-WH-Signature``.

Both are a base64 signature over the raw request body. The order is the official SDK's
(GoHighLevel/highlevel-api-sdk, lib/webhook/webhook-manager.ts ``subscribe``): when
``x-ghl-signature`` is present it alone decides (Ed25519, ``crypto.verify(null, payload, key,
sig)``); only without it is ``x-wh-signature`` checked (``crypto.createVerify('sha256')``,
RSASSA-PKCS1-v1_5 with SHA-256) against HighLevel's published RSA key
(GoHighLevel/highlevel-api-docs, docs/oauth/WebhookAuthentication.md).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from app.errors import AppError

ED25519_HEADER = "X-GHL-Signature"
LEGACY_RSA_HEADER = "X-WH-Signature"
# A base64 RSA-4096 signature is 684 characters; anything much longer is not a signature.
MAX_SIGNATURE_LENGTH = 2048

HighLevelSignatureFailure = Literal["missing", "malformed", "mismatch", "not_configured"]


class HighLevelSignatureError(AppError):
    """The delivery is not provably HighLevel's; ``reason`` is safe to log and to return."""

    http_status = 401
    public_code = "invalid_signature"

    def __init__(self, reason: HighLevelSignatureFailure, message: str) -> None:
        super().__init__(message)
        self.reason: HighLevelSignatureFailure = reason

    def public_fields(self) -> dict[str, Any]:
        return {"reason": self.reason}


class KeyConfigError(ValueError):
    """A configured public key is neither PEM nor base64 of the raw 32 Ed25519 bytes."""


def load_ed25519_key(text: str) -> Ed25519PublicKey:
    """A PEM public key, or base64 of the raw 32-byte key (both forms HighLevel hands out)."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(stripped.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise KeyConfigError("the PEM key is not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(stripped, validate=True)
    except binascii.Error as exc:
        raise KeyConfigError("the key is neither PEM nor base64") from exc
    if len(raw) != 32:
        raise KeyConfigError(f"a raw Ed25519 key has 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_rsa_key(pem: str) -> RSAPublicKey:
    key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    if not isinstance(key, RSAPublicKey):
        raise KeyConfigError("the legacy webhook key is not an RSA public key")
    return key


def _decode(signature: str) -> bytes:
    if len(signature) > MAX_SIGNATURE_LENGTH:
        raise HighLevelSignatureError("malformed", "signature header is too long")
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except binascii.Error:
        raise HighLevelSignatureError("malformed", "signature is not base64") from None


class WebhookVerifier:
    """Checks one delivery; built once from the settings' keys (parsed at startup, not per call)."""

    def __init__(self, ed25519_key: str | None, legacy_rsa_key: str) -> None:
        # The legacy key's default is HighLevel's published one (app/config.py).
        self._ed25519 = (
            load_ed25519_key(ed25519_key) if ed25519_key and ed25519_key.strip() else None
        )
        self._rsa = load_rsa_key(legacy_rsa_key) if legacy_rsa_key.strip() else None

    def verify(self, body: bytes, ghl_signature: str | None, wh_signature: str | None) -> str:
        """Return the scheme that verified (``ed25519`` or ``rsa``) or raise the 401 error."""
        if ghl_signature:
            # As the SDK does: a present X-GHL-Signature never falls back to the legacy header.
            if self._ed25519 is None:
                raise HighLevelSignatureError(
                    "not_configured", "HIGHLEVEL_WEBHOOK_PUBLIC_KEY is not configured"
                )
            try:
                self._ed25519.verify(_decode(ghl_signature), body)
            except InvalidSignature:
                raise HighLevelSignatureError("mismatch", "Ed25519 signature mismatch") from None
            return "ed25519"
        if wh_signature:
            if self._rsa is None:
                raise HighLevelSignatureError(
                    "not_configured", "HIGHLEVEL_LEGACY_RSA_PUBLIC_KEY is empty"
                )
            try:
                self._rsa.verify(_decode(wh_signature), body, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise HighLevelSignatureError("mismatch", "RSA signature mismatch") from None
            return "rsa"
        raise HighLevelSignatureError(
            "missing", f"neither {ED25519_HEADER} nor {LEGACY_RSA_HEADER} is present"
        )
