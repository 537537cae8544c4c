from __future__ import annotations

import base64
import secrets
import stat
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.config import QboEnvironment, Settings, SettingsError, prepare_settings

ALL_SECRETS = (
    "CRM_SIGNING_SECRET",
    "CRM_API_KEY",
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "QBO_WEBHOOK_VERIFIER_TOKEN",
    "TOKEN_ENCRYPTION_KEYS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings read the process environment and ./.env; tests start from neither.
    monkeypatch.chdir(tmp_path)
    for name in (
        *ALL_SECRETS,
        "DATABASE_URL",
        "QBO_ENVIRONMENT",
        "QBS_DATA_DIR",
        "QBO_REDIRECT_URI",
        "QBO_API_BASE_URL",
        "QBO_OAUTH_BASE_URL",
        "PUBLIC_BASE_URL",
        "CRM_RETURN_URL_ORIGINS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_production_names_every_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "production")
    with pytest.raises(SettingsError) as caught:
        prepare_settings(Settings())
    message = str(caught.value)
    for name in (*ALL_SECRETS, "DATABASE_URL", "QBO_REDIRECT_URI"):
        assert name in message


# What an operator following the README sets: every value strong, every URL https.
STRONG_PRODUCTION = {
    "QBO_ENVIRONMENT": "production",
    "DATABASE_URL": "postgresql://db/qbs",
    "PUBLIC_BASE_URL": "https://qbs.crm.test",
    "QBO_REDIRECT_URI": "https://qbs.crm.test/v1/oauth/callback",
    "CRM_RETURN_URL_ORIGINS": "https://app.crm.test,https://admin.crm.test:8443",
    "CRM_SIGNING_SECRET": secrets.token_hex(32),
    "CRM_API_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    "QBO_CLIENT_ID": "ABcdEFghIJklMNopQRstUVwxYZ0123456789abcdefghijklmn",
    "QBO_CLIENT_SECRET": secrets.token_urlsafe(30),
    "QBO_WEBHOOK_VERIFIER_TOKEN": str(uuid.uuid4()),
    "TOKEN_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in STRONG_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def refusal(env: pytest.MonkeyPatch, **changes: str) -> str:
    """The production start-up error with the strong settings changed as given ('' unsets)."""
    for name, value in changes.items():
        if value:
            env.setenv(name, value)
        else:
            env.delenv(name)
    with pytest.raises(SettingsError) as caught:
        prepare_settings(Settings())
    return str(caught.value)


def test_production_refuses_placeholders(production: pytest.MonkeyPatch) -> None:
    assert prepare_settings(Settings()) == []
    production.setenv("CRM_API_KEY", "changeme")
    with pytest.raises(SettingsError, match="CRM_API_KEY is a placeholder"):
        prepare_settings(Settings())


@pytest.mark.parametrize(
    "value",
    [
        secrets.token_hex(32),  # openssl rand -hex 32
        base64.b64encode(secrets.token_bytes(32)).decode(),  # openssl rand -base64 32
        secrets.token_urlsafe(32),
        base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("="),
    ],
    ids=["hex", "base64", "base64url", "base64url-unpadded-48"],
)
def test_production_accepts_32_random_bytes_in_any_encoding(
    production: pytest.MonkeyPatch, value: str
) -> None:
    """Production refuses weak settings: 32 random bytes pass as hex, base64 or base64url."""
    production.setenv("CRM_SIGNING_SECRET", value)
    production.setenv("CRM_API_KEY", value)
    assert prepare_settings(Settings()) == []


@pytest.mark.parametrize(
    ("value", "measured"),
    [
        (secrets.token_hex(16), "16 bytes"),
        (secrets.token_hex(31), "31 bytes"),  # 62 hex digits
        (base64.b64encode(secrets.token_bytes(31)).decode(), "31 bytes"),
        (secrets.token_urlsafe(24), "24 bytes"),
        ("k" * 64, "too little variety"),  # 48 bytes by its alphabet, none by its content
        ("0123456789abcdef" * 4, "too little variety"),
    ],
    ids=["hex-16", "hex-31", "base64-31", "base64url-24", "repeated-char", "repeated-pattern"],
)
def test_production_measures_the_signing_secret_and_api_key(
    production: pytest.MonkeyPatch, value: str, measured: str
) -> None:
    """Production refuses weak settings: under 32 bytes of entropy, named with what to do."""
    message = refusal(production, CRM_API_KEY=value, CRM_SIGNING_SECRET=value)
    advice = "use 32 random bytes, e.g. `openssl rand -hex 32`"
    assert f"CRM_API_KEY: {measured}" in message
    assert f"CRM_SIGNING_SECRET: {measured}" in message
    assert advice in message


def test_production_checks_every_signing_secret_kept_for_rotation(
    production: pytest.MonkeyPatch,
) -> None:
    """Production refuses weak settings: an old short signing secret still verifies: refused."""
    message = refusal(
        production, CRM_SIGNING_SECRET=f"{secrets.token_hex(32)},{secrets.token_hex(8)}"
    )
    assert "CRM_SIGNING_SECRET (value 2 of 2): 8 bytes" in message
    assert "value 1 of 2" not in message


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("QBO_CLIENT_ID", "emulator-client-id"),
        ("QBO_CLIENT_SECRET", "emulator-client-secret"),
        ("QBO_WEBHOOK_VERIFIER_TOKEN", "emulator-verifier-token"),
        ("QBO_API_BASE_URL", "http://127.0.0.1:8300"),
        ("QBO_OAUTH_BASE_URL", "http://127.0.0.1:8300/"),
    ],
)
def test_production_refuses_the_emulators_published_defaults(
    production: pytest.MonkeyPatch, name: str, default: str
) -> None:
    """Production refuses weak settings: what the emulator prints on start is refused by name."""
    assert f"{name}: the QBO emulator's" in refusal(production, **{name: default})


def test_production_refuses_intuit_secrets_cut_short(production: pytest.MonkeyPatch) -> None:
    """Production refuses weak settings: an Intuit-issued secret has a minimum length."""
    message = refusal(production, QBO_CLIENT_SECRET="s3cr3t", QBO_WEBHOOK_VERIFIER_TOKEN="v" * 15)
    assert "QBO_CLIENT_SECRET: 6 characters; copy the whole value" in message
    assert "QBO_WEBHOOK_VERIFIER_TOKEN: 15 characters" in message


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (base64.urlsafe_b64encode(b"not-a-key").decode(), "decodes to 9 bytes, not 32"),
        (base64.urlsafe_b64encode(bytes(32)).decode(), "too little variety"),
        (
            base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + ",short",
            "TOKEN_ENCRYPTION_KEYS (key 2 of 2): not url-safe base64",
        ),
    ],
    ids=["9-bytes", "zero-bytes", "second-key-broken"],
)
def test_production_refuses_token_keys_that_are_not_fernet_keys(
    production: pytest.MonkeyPatch, keys: str, problem: str
) -> None:
    """Production refuses weak settings: each token key is 32 random url-safe base64 bytes."""
    message = refusal(production, TOKEN_ENCRYPTION_KEYS=keys)
    assert problem in message
    assert "Fernet.generate_key()" in message


@pytest.mark.parametrize("name", ["PUBLIC_BASE_URL", "QBO_REDIRECT_URI"])
def test_production_requires_https_addresses(production: pytest.MonkeyPatch, name: str) -> None:
    """Production refuses weak settings: PUBLIC_BASE_URL and QBO_REDIRECT_URI are https."""
    message = refusal(production, **{name: "http://qbs.crm.test/v1/oauth/callback"})
    assert f"{name}: http://qbs.crm.test/v1/oauth/callback is not https" in message


def test_production_refuses_the_default_public_base_url(production: pytest.MonkeyPatch) -> None:
    """Production refuses weak settings: the development default http://127.0.0.1:8000."""
    assert "PUBLIC_BASE_URL: http://127.0.0.1:8000 is not https" in refusal(
        production, PUBLIC_BASE_URL=""
    )


@pytest.mark.parametrize(
    ("origins", "problem"),
    [
        ("", "CRM_RETURN_URL_ORIGINS is empty"),
        ("*", "'*' is a wildcard"),
        ("https://*.crm.test", "'https://*.crm.test' is a wildcard"),
        ("https://app.crm.test,http://app.crm.test", "'http://app.crm.test' is not https"),
        ("https://app.crm.test/return", "is more than an origin"),
        ("https://user@app.crm.test", "has user information"),
        ("app.crm.test", "'app.crm.test' is not https"),
    ],
)
def test_production_requires_explicit_https_return_origins(
    production: pytest.MonkeyPatch, origins: str, problem: str
) -> None:
    """Production refuses weak settings: CRM_RETURN_URL_ORIGINS lists explicit https origins."""
    assert problem in refusal(production, CRM_RETURN_URL_ORIGINS=origins)


def test_production_names_every_weak_setting_at_once(production: pytest.MonkeyPatch) -> None:
    """Production refuses weak settings: one start-up attempt lists them all."""
    message = refusal(
        production,
        CRM_API_KEY=secrets.token_hex(16),
        QBO_CLIENT_SECRET="emulator-client-secret",
        PUBLIC_BASE_URL="http://qbs.crm.test",
        CRM_RETURN_URL_ORIGINS="*",
    )
    assert "CRM_API_KEY: 16 bytes; use 32 random bytes, e.g. `openssl rand -hex 32`" in message
    for name in ("QBO_CLIENT_SECRET", "PUBLIC_BASE_URL", "CRM_RETURN_URL_ORIGINS"):
        assert f"{name}:" in message
    assert "CRM_SIGNING_SECRET" not in message


def test_development_accepts_what_production_refuses(tmp_path: Path) -> None:
    """Production refuses weak settings, only in production: emulator and sandbox stay easy."""
    for environment in ("emulator", "sandbox"):
        settings = Settings(QBS_DATA_DIR=tmp_path)
        settings.qbo.environment = QboEnvironment(environment)
        settings.crm.api_key = SecretStr("short")
        settings.crm.return_url_origins = ["*"]
        prepare_settings(settings)


def test_development_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(QBS_DATA_DIR=data_dir)
    generated = prepare_settings(first)
    assert set(generated) == {"CRM_SIGNING_SECRET", "CRM_API_KEY", "TOKEN_ENCRYPTION_KEYS"}
    secrets_file = data_dir / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600

    second = Settings(QBS_DATA_DIR=data_dir)
    assert prepare_settings(second) == []
    assert first.crm.signing_secret is not None
    assert second.crm.signing_secret is not None
    assert (
        first.crm.signing_secret.get_secret_value() == second.crm.signing_secret.get_secret_value()
    )


def test_emulator_defaults_work_with_nothing_configured(tmp_path: Path) -> None:
    settings = Settings(QBS_DATA_DIR=tmp_path)
    prepare_settings(settings)
    assert settings.qbo.client_id == "emulator-client-id"
    assert settings.qbo.api_base_url == "http://127.0.0.1:8300"
    assert settings.qbo.redirect_uri == "http://127.0.0.1:8000/v1/oauth/callback"


def test_set_values_win_over_generated_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRM_SIGNING_SECRET", "from-the-environment")
    settings = Settings(QBS_DATA_DIR=tmp_path)
    prepare_settings(settings)
    assert settings.crm.signing_secret is not None
    assert settings.crm.signing_secret.get_secret_value() == "from-the-environment"


def test_secrets_never_appear_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_SIGNING_SECRET", "super-secret-value")
    assert "super-secret-value" not in repr(Settings())


EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def _env_names() -> set[str]:
    names = set()
    for group in (
        Settings().crm,
        Settings().qbo,
        Settings().worker,
        Settings().retention,
        Settings().highlevel,
    ):
        prefix = str(group.model_config.get("env_prefix", ""))
        names |= {prefix + field.upper() for field in type(group).model_fields}
    for name, field in Settings.model_fields.items():
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias)
        elif name not in {"crm", "qbo", "worker", "retention", "highlevel"}:
            names.add(name.upper())
    return names


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = EXAMPLE.read_text().splitlines()
    listed = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert listed == _env_names()
    for index, line in enumerate(lines):
        if line and not line.startswith("#") and not lines[index - 1].startswith("#"):
            # Settings may share one comment block, but each block needs one.
            assert "=" in lines[index - 1], f"{line} has no comment"


def test_env_example_copied_as_is_starts_a_development_setup(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(EXAMPLE.read_text())
    settings = Settings()
    assert settings.uses_embedded_database
    generated = prepare_settings(settings)
    assert "CRM_SIGNING_SECRET" in generated
    assert settings.qbo.client_secret is not None
    assert settings.qbo.client_secret.get_secret_value() == "emulator-client-secret"


def test_token_cipher_rotation_reads_old_and_writes_new() -> None:
    from cryptography.fernet import Fernet

    from app.security.tokens import TokenCipher

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = TokenCipher([old]).encrypt("refresh-token")
    rotated = TokenCipher([new, old])
    assert rotated.decrypt(stored) == "refresh-token"
    rewritten = rotated.encrypt(rotated.decrypt(stored))
    assert TokenCipher([new]).decrypt(rewritten) == "refresh-token"
    with pytest.raises(SettingsError, match="cannot be decrypted"):
        TokenCipher([new]).decrypt(stored)


def test_state_signer_rejects_forgery_and_accepts_rotated_keys() -> None:
    import uuid

    from app.security.tokens import StateSigner

    attempt = uuid.uuid4()
    state = StateSigner(["key-a"]).sign(attempt)
    assert StateSigner(["key-b", "key-a"]).verify(state) == attempt
    assert StateSigner(["key-b"]).verify(state) is None
    assert StateSigner(["key-a"]).verify(state[:-2] + "xx") is None
    assert StateSigner(["key-a"]).verify("garbage") is None
