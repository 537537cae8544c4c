"""How strong a configured secret is, and whether a URL or origin is fit for production.

Pure functions over plain values; app/config.py calls `weak_production_settings` at start-up
with QBO_ENVIRONMENT=production and refuses to start on any problem it names.

Entropy of a secret is estimated from its encoding, because the value is the encoding of random
bytes and the bytes are what an attacker has to guess:

- only hex digits (``openssl rand -hex 32``): 4 bits a character;
- only base64 or base64url characters, ``=`` padding not counted (``openssl rand -base64 32``,
  ``secrets.token_urlsafe(32)``): 6 bits a character;
- anything else (a password typed by a person): 6 bits a character at most, although printable
  ASCII could carry 6.6, since such text is rarely uniformly random.

The encoding only gives an upper bound: ``"a" * 64`` is valid hex. So a value must also look
random: it must not be a shorter string repeated, and the Shannon entropy of its characters must
reach 70 % of what its length and alphabet allow. Values from the generators above pass with a wide
margin (over 200,000 draws each, the lowest score of a 64-digit hex string was 3.3 bits against 2.8
required, of a 43-character base64url string 4.1 against 3.8); a repeated character, a repeated
pattern, or words of a language do not.
"""

from __future__ import annotations

import base64
import binascii
import math
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

MIN_SECRET_BYTES = 32
_HEX = frozenset(string.hexdigits)
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/")
_BASE64URL = frozenset(string.ascii_letters + string.digits + "-_")
_VARIETY_RATIO = 0.7


def bits_per_character(value: str) -> int:
    """Bits of entropy one character of the value can carry, judged by its alphabet."""
    body = set(value.rstrip("="))
    if body <= _HEX:
        return 4
    return 6


def entropy_bytes(value: str) -> int:
    """Upper bound of the random bytes the value encodes (see the module docstring)."""
    return len(value.rstrip("=")) * bits_per_character(value) // 8


def looks_random(value: str) -> bool:
    """False for a value with too little variety for its length (repeats, patterns, words)."""
    body = value.rstrip("=")
    if len(body) < 2 or (body + body).find(body, 1) != len(body):
        # The second test finds a value that is a shorter string repeated ("abcabc").
        return False
    counts = Counter(body)
    shannon = -sum(n / len(body) * math.log2(n / len(body)) for n in counts.values())
    reachable = min(float(bits_per_character(value)), math.log2(len(body)))
    return shannon >= _VARIETY_RATIO * reachable


def secret_weakness(value: str, min_bytes: int = MIN_SECRET_BYTES) -> str | None:
    """Why the secret is too weak, in a few words, or None when it is strong enough."""
    estimate = entropy_bytes(value)
    if estimate < min_bytes:
        return f"{estimate} bytes"
    if not looks_random(value):
        return "too little variety for its length (a repeated or predictable value)"
    return None


def fernet_key_weakness(value: str) -> str | None:
    """Why the value is not a usable Fernet key (32 random bytes, url-safe base64), or None."""
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return "not url-safe base64"
    if len(raw) != MIN_SECRET_BYTES:
        return f"decodes to {len(raw)} bytes, not 32"
    if not looks_random(value):
        return "too little variety (a repeated or predictable value)"
    return None


def https_weakness(url: str) -> str | None:
    """Why the URL is not an absolute https URL, or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        return "not https"
    if not parts.hostname:
        return "has no host"
    return None


def origin_weakness(origin: str) -> str | None:
    """Why the value is not one explicit https origin (``https://host[:port]``), or None."""
    if "*" in origin:
        return "a wildcard; list each origin"
    parts = urlsplit(origin)
    if parts.scheme.lower() != "https":
        return "not https"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "has user information"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "is more than an origin (scheme, host and port only)"
    return None


_RANDOM_32 = "use 32 random bytes, e.g. `openssl rand -hex 32`"
_FERNET_KEY = (
    "make one with `python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'`"
)
# Our own secrets: measured. Intuit issues the others in its own format (a client secret has 40
# characters), so only a length floor is checked, which catches a value cut short or typed by hand.
_OWN_SECRETS = ("CRM_SIGNING_SECRET", "CRM_API_KEY")
_INTUIT_SECRETS = ("QBO_CLIENT_SECRET", "QBO_WEBHOOK_VERIFIER_TOKEN")
_INTUIT_SECRET_MIN_CHARS = 16
# Values that show a secret was copied from an example instead of being set (app/config.py
# reports them as placeholders, so they are not measured here as well).
PLACEHOLDER_MARKERS = ("changeme", "change-me", "placeholder", "example", "xxx", "todo")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _placeholder(value: str) -> bool:
    return any(marker in value.lower() for marker in PLACEHOLDER_MARKERS)


def _which(index: int, total: int, noun: str) -> str:
    return f" ({noun} {index} of {total})" if total > 1 else ""


def weak_production_settings(
    *,
    secrets: Mapping[str, str | None],
    urls: Mapping[str, str | None],
    return_origins: Sequence[str],
    emulator_defaults: Mapping[str, str],
    emulator_url: str,
) -> list[str]:
    """Every weak setting, each as "NAME: what is wrong; what to do"."""
    problems: list[str] = []
    for name in _OWN_SECRETS:
        # Every signing secret kept for rotation still verifies signatures: each must be strong.
        parts = _split(secrets.get(name))
        for index, part in enumerate(parts, start=1):
            weakness = secret_weakness(part)
            if weakness is not None and not _placeholder(part):
                which = _which(index, len(parts), "value")
                problems.append(f"{name}{which}: {weakness}; {_RANDOM_32}")
    for name, default in emulator_defaults.items():
        value = secrets.get(name)
        if value is not None and value.strip() == default:
            problems.append(
                f"{name}: the QBO emulator's published default; "
                "use your Intuit app's value from developer.intuit.com"
            )
        elif name in _INTUIT_SECRETS and value and len(value) < _INTUIT_SECRET_MIN_CHARS:
            problems.append(
                f"{name}: {len(value)} characters; copy the whole value from developer.intuit.com"
            )
    keys = _split(secrets.get("TOKEN_ENCRYPTION_KEYS"))
    for index, key in enumerate(keys, start=1):
        weakness = fernet_key_weakness(key)
        if weakness is not None and not _placeholder(key):
            which = _which(index, len(keys), "key")
            problems.append(f"TOKEN_ENCRYPTION_KEYS{which}: {weakness}; {_FERNET_KEY}")
    return problems + _weak_urls(urls, emulator_url) + _weak_origins(return_origins)


def _weak_urls(urls: Mapping[str, str | None], emulator_url: str) -> list[str]:
    problems: list[str] = []
    for name, url in urls.items():
        if not url:
            continue
        weakness = https_weakness(url)
        if url.rstrip("/") == emulator_url.rstrip("/"):
            problems.append(f"{name}: the QBO emulator's address; leave it unset for Intuit's")
        elif weakness is not None:
            problems.append(
                f"{name}: {url} is {weakness}; use the https address Intuit and browsers reach "
                "(TLS may end at the load balancer)"
            )
    return problems


def _weak_origins(origins: Sequence[str]) -> list[str]:
    if not origins:
        return [
            "CRM_RETURN_URL_ORIGINS is empty; list the CRM's https origins, comma-separated "
            "(e.g. https://app.crm.test)"
        ]
    return [
        f"CRM_RETURN_URL_ORIGINS: {origin!r} is {weakness}; "
        "list explicit https origins such as https://app.crm.test"
        for origin in origins
        if (weakness := origin_weakness(origin)) is not None
    ]
