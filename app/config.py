"""Settings: one object, nested groups, secrets as SecretStr, fail fast in production.

Every group reads the same flat environment variable names (``CRM_SIGNING_SECRET``,
``QBO_CLIENT_ID``, ...) because operators, docs and `.env.example` rely on those names, not on
nested ``A__B`` forms.
"""

from __future__ import annotations

import json
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.secret_strength import PLACEHOLDER_MARKERS, weak_production_settings

ENV_FILE = ".env"
SECRETS_FILE_NAME = "secrets.json"
EMULATOR_CLIENT_ID = "emulator-client-id"
EMULATOR_CLIENT_SECRET = "emulator-client-secret"  # noqa: S105 - the emulator's public default
EMULATOR_VERIFIER_TOKEN = "emulator-verifier-token"  # noqa: S105 - the emulator's public default
DEFAULT_EMULATOR_BASE_URL = "http://127.0.0.1:8300"


class QboEnvironment(StrEnum):
    EMULATOR = "emulator"
    SANDBOX = "sandbox"
    PRODUCTION = "production"


def _group_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )


class CrmSettings(BaseSettings):
    model_config = _group_config("CRM_")

    signing_secret: SecretStr | None = None
    api_key: SecretStr | None = None
    callback_url: str | None = None
    # Origins a connect flow may send the browser back to (issue: connect flow).
    return_url_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_event_bytes: int = 256 * 1024
    signature_tolerance_s: int = 300
    # Callback delivery (docs/design.md §2.4): a callback the CRM has not taken this long after it
    # was written (or resent) is `failed`; a deliverer's claim on a batch lasts `lease_s`.
    callback_give_up_after_s: float = Field(default=3 * 86_400, gt=0)
    callback_lease_s: float = Field(default=120.0, ge=30)
    callback_timeout_s: float = Field(default=10.0, gt=0, le=60)

    @field_validator("return_url_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return _split_csv(value)


class QboSettings(BaseSettings):
    model_config = _group_config("QBO_")

    environment: QboEnvironment = QboEnvironment.EMULATOR
    client_id: str | None = None
    client_secret: SecretStr | None = None
    redirect_uri: str | None = None
    webhook_verifier_token: SecretStr | None = None
    api_base_url: str | None = None
    oauth_base_url: str | None = None
    max_webhook_bytes: int = 2 * 1024 * 1024
    # Seconds after a create is sent by which it has surely ended in QBO (its 120 s request
    # timeout, plus a margin): a retry after an unanswered create looks it up only then.
    write_settle_s: float = Field(default=130.0, ge=0)
    # Per-realm request limits the service keeps under (app/services/qbo_limiter.py says why).
    requests_per_second: int = Field(default=10, gt=0)
    requests_per_minute: int = Field(default=490, gt=0)
    max_in_flight: int = Field(default=10, gt=0)

    def resolved_api_base_url(self) -> str:
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        return {
            QboEnvironment.EMULATOR: DEFAULT_EMULATOR_BASE_URL,
            QboEnvironment.SANDBOX: "https://sandbox-quickbooks.api.intuit.com",
            QboEnvironment.PRODUCTION: "https://quickbooks.api.intuit.com",
        }[self.environment]


class WorkerSettings(BaseSettings):
    model_config = _group_config("QBS_WORKER_")

    concurrency: int = 8
    poll_interval_s: float = 0.5
    heartbeat_interval_s: float = 5.0
    stalled_after_s: float = 30.0
    retry_max_attempts: int = 12
    retry_base_s: float = 2.0
    retry_cap_s: float = 600.0
    # How often each connection asks QBO's CDC for changes webhooks may have missed (Q1: 5 min).
    cdc_interval_s: float = 300.0
    # A worker that lost the database probes it with this backoff, then starts again; failing
    # for longer than give_up_after_s ends the process non-zero (a supervisor restarts it).
    reconnect_backoff_base_s: float = Field(default=0.5, gt=0)
    reconnect_backoff_cap_s: float = Field(default=5.0, gt=0)
    give_up_after_s: float = Field(default=300.0, gt=0)


class RetentionSettings(BaseSettings):
    """Days finished records are kept (0 keeps them for ever); see app/sync/retention.py."""

    model_config = _group_config("QBS_RETENTION_")

    crm_events_days: int = Field(default=90, ge=0)
    qbo_changes_days: int = Field(default=90, ge=0)
    # Finished procrastinate jobs, with their procrastinate_events.
    jobs_days: int = Field(default=90, ge=0)
    # Kept longer than the events: the sync log is what people read and audit.
    sync_log_days: int = Field(default=400, ge=0)
    delivered_callbacks_days: int = Field(default=60, ge=0)
    # Counted from the connect link's expiry (10 minutes after it was made).
    oauth_states_days: int = Field(default=7, ge=0)
    # Rows deleted per transaction: each batch holds its row locks for a moment only.
    batch_size: int = Field(default=1000, ge=1, le=50_000)

    @model_validator(mode="after")
    def _sync_log_outlives_events(self) -> RetentionSettings:
        # A failed event goes once a newer sync-log entry shows it was retried; an entry purged
        # before its event would leave that event behind for ever.
        for name in ("crm_events_days", "qbo_changes_days"):
            days = getattr(self, name)
            if self.sync_log_days and days and self.sync_log_days < days:
                raise ValueError(
                    f"QBS_RETENTION_SYNC_LOG_DAYS ({self.sync_log_days}) must be at least "
                    f"QBS_RETENTION_{name.upper()} ({days}), or 0 (keep for ever)"
                )
        return self


# HighLevel's published RSA key for the legacy `X-WH-Signature` (GoHighLevel/highlevel-api-docs,
# docs/oauth/WebhookAuthentication.md; the official SDK, lib/webhook/webhook-manager.ts, still
# verifies it when a delivery carries no `X-GHL-Signature`).
HIGHLEVEL_LEGACY_RSA_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""


class HighLevelSettings(BaseSettings):
    """A HighLevel Marketplace app (docs/design.md: CRM adapters); empty client id = not used."""

    model_config = _group_config("HIGHLEVEL_")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_base_url: str = "https://services.leadconnectorhq.com"
    oauth_base_url: str = "https://marketplace.gohighlevel.com"
    # Default: PUBLIC_BASE_URL/v1/highlevel/oauth/callback (must match the app's redirect URL).
    redirect_uri: str | None = None
    # Ed25519 key for `X-GHL-Signature`: PEM, or base64 of the raw 32 bytes. Empty: a delivery
    # signed with `X-GHL-Signature` is refused 401 and the log says the key is not configured;
    # one carrying only the legacy `X-WH-Signature` is still checked with the RSA key below.
    webhook_public_key: str | None = None
    legacy_rsa_public_key: str = HIGHLEVEL_LEGACY_RSA_PUBLIC_KEY
    poll_interval_s: float = Field(default=300.0, gt=0)
    review_tag: str = "qbo-first-invoice-paid"
    # HighLevel: "ensure the timestamp in the payload is within an acceptable time window
    # (e.g., 5 minutes)" (docs/oauth/WebhookAuthentication.md, Handling Replay Attacks).
    replay_window_s: float = Field(default=300.0, gt=0)
    # HighLevel's documented limits per app and location: 100 requests per 10 s (burst) and
    # 200,000 a day (docs/oauth/Faqs.md, "What are current rate limits for API 2.0?").
    burst_requests: int = Field(default=100, gt=0)
    burst_interval_s: float = Field(default=10.0, gt=0)
    daily_requests: int = Field(default=200_000, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore"
    )

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".qbo-sync"), validation_alias="QBS_DATA_DIR")
    token_encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias="TOKEN_ENCRYPTION_KEYS"
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias="PUBLIC_BASE_URL"
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    # auto: coloured lines for a person on a terminal, JSON lines otherwise (app/logging.py).
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", validation_alias="LOG_FORMAT"
    )
    host: str = Field(default="127.0.0.1", validation_alias="QBS_HOST")
    port: int = Field(default=8000, validation_alias="QBS_PORT")
    auto_migrate: bool = Field(default=True, validation_alias="QBS_AUTO_MIGRATE")
    # /readyz fails once a runnable job has waited this long and no worker has a live heartbeat.
    ready_max_job_wait_s: float = Field(default=300.0, validation_alias="QBS_READY_MAX_JOB_WAIT_S")
    # Slow clients (app/api/http_guard.py): seconds to send a request's headers, then its body;
    # idle seconds kept between requests; connections served at once (beyond: 503).
    http_header_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="QBS_HTTP_HEADER_TIMEOUT_S"
    )
    http_body_timeout_s: float = Field(
        default=30.0, gt=0, validation_alias="QBS_HTTP_BODY_TIMEOUT_S"
    )
    http_keep_alive_s: int = Field(default=5, ge=1, validation_alias="QBS_HTTP_KEEP_ALIVE_S")
    http_max_connections: int = Field(
        default=1000, ge=1, validation_alias="QBS_HTTP_MAX_CONNECTIONS"
    )

    crm: CrmSettings = Field(default_factory=CrmSettings)
    qbo: QboSettings = Field(default_factory=QboSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    highlevel: HighLevelSettings = Field(default_factory=HighLevelSettings)

    @field_validator("token_encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return _split_csv(value)

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


class SettingsError(Exception):
    """Start-up cannot continue; the message names every setting at fault."""


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return not lowered or any(marker in lowered for marker in PLACEHOLDER_MARKERS)


def _secret_value(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _required_secrets(settings: Settings) -> dict[str, str | None]:
    keys = [key.get_secret_value() for key in settings.token_encryption_keys]
    return {
        "CRM_SIGNING_SECRET": _secret_value(settings.crm.signing_secret),
        "CRM_API_KEY": _secret_value(settings.crm.api_key),
        "QBO_CLIENT_ID": settings.qbo.client_id,
        "QBO_CLIENT_SECRET": _secret_value(settings.qbo.client_secret),
        "QBO_WEBHOOK_VERIFIER_TOKEN": _secret_value(settings.qbo.webhook_verifier_token),
        "TOKEN_ENCRYPTION_KEYS": ",".join(keys) if keys else None,
    }


def check_production(settings: Settings) -> None:
    """Refuse to start in production with any setting missing, a placeholder or weak.

    Each problem names its setting and what to do (app/secret_strength.py).
    """
    missing = [
        f"{name} is {'missing' if value is None else 'a placeholder'}"
        for name, value in _required_secrets(settings).items()
        if value is None or _is_placeholder(value)
    ]
    if not settings.database_url:
        missing.append("DATABASE_URL is missing (the embedded database is for development only)")
    if not settings.qbo.redirect_uri:
        missing.append("QBO_REDIRECT_URI is missing")
    urls = {
        "PUBLIC_BASE_URL": settings.public_base_url,
        "QBO_REDIRECT_URI": settings.qbo.redirect_uri,
        "QBO_API_BASE_URL": settings.qbo.api_base_url,
        "QBO_OAUTH_BASE_URL": settings.qbo.oauth_base_url,
    }
    problems = missing + weak_production_settings(
        secrets=_required_secrets(settings),
        urls=urls,
        return_origins=settings.crm.return_url_origins,
        emulator_defaults={
            "QBO_CLIENT_ID": EMULATOR_CLIENT_ID,
            "QBO_CLIENT_SECRET": EMULATOR_CLIENT_SECRET,
            "QBO_WEBHOOK_VERIFIER_TOKEN": EMULATOR_VERIFIER_TOKEN,
        },
        emulator_url=DEFAULT_EMULATOR_BASE_URL,
    )
    if problems:
        raise SettingsError(
            "QBO_ENVIRONMENT=production refuses these settings: " + "; ".join(problems)
        )


def _generated_value(name: str) -> str:
    if name == "TOKEN_ENCRYPTION_KEYS":
        # A Fernet key is 32 url-safe base64 bytes; generated without importing cryptography here.
        import base64

        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)


def load_generated_secrets(data_dir: Path) -> tuple[dict[str, str], list[str]]:
    """Read (and extend) the development secrets file kept in the data directory.

    Returns every stored value and the names generated by this call.
    """
    path = data_dir / SECRETS_FILE_NAME
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    created = [
        name
        for name in ("CRM_SIGNING_SECRET", "CRM_API_KEY", "TOKEN_ENCRYPTION_KEYS")
        if name not in stored
    ]
    if created:
        for name in created:
            stored[name] = _generated_value(name)
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2)
        tmp.replace(path)
    return stored, created


def fill_development_defaults(settings: Settings) -> list[str]:
    """Give a development setup working secrets without any configuration.

    Emulator credentials default to the emulator's own; the rest are generated once and kept
    in the data directory so restarts keep accepting the same signatures. Returns generated names.
    """
    stored, created = load_generated_secrets(settings.data_dir)
    if settings.crm.signing_secret is None:
        settings.crm.signing_secret = SecretStr(stored["CRM_SIGNING_SECRET"])
    if settings.crm.api_key is None:
        settings.crm.api_key = SecretStr(stored["CRM_API_KEY"])
    if not settings.token_encryption_keys:
        settings.token_encryption_keys = [SecretStr(stored["TOKEN_ENCRYPTION_KEYS"])]
    if settings.qbo.environment is QboEnvironment.EMULATOR:
        settings.qbo.client_id = settings.qbo.client_id or EMULATOR_CLIENT_ID
        if settings.qbo.client_secret is None:
            settings.qbo.client_secret = SecretStr(EMULATOR_CLIENT_SECRET)
        if settings.qbo.webhook_verifier_token is None:
            settings.qbo.webhook_verifier_token = SecretStr(EMULATOR_VERIFIER_TOKEN)
        settings.qbo.api_base_url = settings.qbo.api_base_url or DEFAULT_EMULATOR_BASE_URL
        settings.qbo.oauth_base_url = settings.qbo.oauth_base_url or DEFAULT_EMULATOR_BASE_URL
    settings.qbo.redirect_uri = settings.qbo.redirect_uri or (
        settings.public_base_url.rstrip("/") + "/v1/oauth/callback"
    )
    return created


def prepare_settings(settings: Settings) -> list[str]:
    """Validate for the environment and fill development defaults; returns generated names."""
    if settings.qbo.environment is QboEnvironment.PRODUCTION:
        check_production(settings)
        return []
    return fill_development_defaults(settings)


def signing_secrets(settings: Settings) -> list[str]:
    value = _secret_value(settings.crm.signing_secret)
    if value is None:
        raise SettingsError("CRM_SIGNING_SECRET is not set")
    # Several comma-separated secrets allow rotation without rejecting in-flight events.
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise SettingsError("CRM_SIGNING_SECRET is empty")
    return parts
