"""HighLevel webhook signatures: Ed25519 over the raw body (keys generated here, synthetic), the
legacy RSA path, and the default legacy key being HighLevel's published one."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.config import HighLevelSettings
from app.integrations.highlevel.signatures import (
    HighLevelSignatureError,
    KeyConfigError,
    WebhookVerifier,
    load_ed25519_key,
)

SAMPLES = Path(__file__).parent / "samples"
BODY = (SAMPLES / "InvoiceSent.json").read_bytes()


def _ed25519() -> tuple[Ed25519PrivateKey, str, str]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, pem, base64.b64encode(raw).decode()


def test_ed25519_accepts_pem_and_raw_base64_keys() -> None:
    key, pem, raw_b64 = _ed25519()
    signature = base64.b64encode(key.sign(BODY)).decode()
    for configured in (pem, raw_b64):
        assert WebhookVerifier(configured, "").verify(BODY, signature, None) == "ed25519"


def test_ed25519_refuses_a_changed_body_or_another_key() -> None:
    key, pem, _ = _ed25519()
    _, other_pem, _ = _ed25519()
    signature = base64.b64encode(key.sign(BODY)).decode()
    with pytest.raises(HighLevelSignatureError) as changed:
        WebhookVerifier(pem, "").verify(BODY.replace(b"999", b"998", 1), signature, None)
    assert changed.value.reason == "mismatch"
    with pytest.raises(HighLevelSignatureError):
        WebhookVerifier(other_pem, "").verify(BODY, signature, None)
    with pytest.raises(HighLevelSignatureError) as garbage:
        WebhookVerifier(pem, "").verify(BODY, "not base64!", None)
    assert garbage.value.reason == "malformed"


def test_a_present_ghl_signature_never_falls_back_to_the_legacy_header() -> None:
    # GoHighLevel/highlevel-api-sdk README: "If x-ghl-signature is present, SDK validates it ...
    # and does not fall back to x-wh-signature."
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    good_rsa = base64.b64encode(rsa_key.sign(BODY, padding.PKCS1v15(), hashes.SHA256())).decode()
    _, pem, _ = _ed25519()
    bad_ed = base64.b64encode(b"\x00" * 64).decode()
    verifier = WebhookVerifier(pem, rsa_pem)
    with pytest.raises(HighLevelSignatureError):
        verifier.verify(BODY, bad_ed, good_rsa)
    assert verifier.verify(BODY, None, good_rsa) == "rsa"


def test_legacy_rsa_sha256_with_a_generated_key() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    signature = base64.b64encode(rsa_key.sign(BODY, padding.PKCS1v15(), hashes.SHA256()))
    verifier = WebhookVerifier(None, rsa_pem)
    assert verifier.verify(BODY, None, signature.decode()) == "rsa"
    with pytest.raises(HighLevelSignatureError) as tampered:
        verifier.verify(BODY + b" ", None, signature.decode())
    assert tampered.value.reason == "mismatch"


def test_the_default_legacy_key_is_highlevels_published_one() -> None:
    published = (SAMPLES / "highlevel_webhook_rsa_public_key.pem").read_text()
    default = HighLevelSettings.model_fields["legacy_rsa_public_key"].default
    assert default.strip() == published.strip()
    # And a signature from any other key fails against it.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = base64.b64encode(other.sign(BODY, padding.PKCS1v15(), hashes.SHA256())).decode()
    with pytest.raises(HighLevelSignatureError):
        WebhookVerifier(None, default).verify(BODY, None, forged)


def test_unsigned_or_unconfigured_deliveries_are_refused() -> None:
    with pytest.raises(HighLevelSignatureError) as missing:
        WebhookVerifier(None, "").verify(BODY, None, None)
    assert missing.value.reason == "missing"
    with pytest.raises(HighLevelSignatureError) as unconfigured:
        WebhookVerifier(None, "").verify(BODY, "c2ln", None)
    assert unconfigured.value.reason == "not_configured"
    with pytest.raises(KeyConfigError):
        load_ed25519_key(base64.b64encode(b"short").decode())
