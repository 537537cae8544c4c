"""The stand-in's own signing keys: Ed25519 for `X-GHL-Signature`, RSA for legacy `X-WH-Signature`.

What is signed: HighLevel's SDK verifies `JSON.stringify(req.body)` as UTF-8 bytes against the
base64 header value, with `crypto.verify(null, ...)` for Ed25519 and `createVerify('sha256')` (RSA
PKCS#1 v1.5 + SHA-256) for the legacy header (highlevel-api-sdk lib/webhook/webhook-manager.ts,
`verifyEd25519Signature` / `verifySignature`). The stand-in sends compact JSON, which is what
`JSON.stringify` of the parsed body reproduces, and signs exactly those bytes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa


def _new_rsa() -> rsa.RSAPrivateKey:
    # HighLevel's published legacy key is RSA-4096 (docs/oauth/WebhookAuthentication.md);
    # 2048 bits keeps start-up fast and verifies the same way.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class SigningKeys:
    ed25519_key: ed25519.Ed25519PrivateKey = field(
        default_factory=ed25519.Ed25519PrivateKey.generate
    )
    rsa_key: rsa.RSAPrivateKey = field(default_factory=_new_rsa)

    def sign_ed25519(self, body: bytes) -> str:
        return base64.b64encode(self.ed25519_key.sign(body)).decode()

    def sign_rsa(self, body: bytes) -> str:
        signature = self.rsa_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def public(self) -> dict[str, str]:
        ed_pub = self.ed25519_key.public_key()
        raw = ed_pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "pem": _pem(ed_pub),
            "raw_base64": base64.b64encode(raw).decode(),
            "legacy_rsa_pem": _pem(self.rsa_key.public_key()),
        }


def _pem(key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
