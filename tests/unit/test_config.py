from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.config import Settings, SettingsError, prepare_settings

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
    ):
        monkeypatch.delenv(name, raising=False)


def test_production_names_every_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "production")
    with pytest.raises(SettingsError) as caught:
        prepare_settings(Settings())
    message = str(caught.value)
    for name in (*ALL_SECRETS, "DATABASE_URL", "QBO_REDIRECT_URI"):
        assert name in message


def test_production_refuses_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/qbs")
    monkeypatch.setenv("QBO_REDIRECT_URI", "https://qbs.example.org/v1/oauth/callback")
    for name in ALL_SECRETS:
        monkeypatch.setenv(name, "a-real-looking-value-1234567890")
    monkeypatch.setenv("CRM_API_KEY", "changeme")
    with pytest.raises(SettingsError, match="CRM_API_KEY is a placeholder"):
        prepare_settings(Settings())
    monkeypatch.setenv("CRM_API_KEY", "k" * 40)
    assert prepare_settings(Settings()) == []


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
    for group in (Settings().crm, Settings().qbo, Settings().worker):
        prefix = str(group.model_config.get("env_prefix", ""))
        names |= {prefix + field.upper() for field in type(group).model_fields}
    for name, field in Settings.model_fields.items():
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias)
        elif name not in {"crm", "qbo", "worker"}:
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
