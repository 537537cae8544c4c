"""Bearer authentication for calls from the CRM backend."""

from __future__ import annotations

import hmac

from fastapi import Request

from app.errors import AppError
from app.state import app_state


class AuthError(AppError):
    """The CRM's bearer key is missing or wrong."""

    http_status = 401
    public_code = "unauthorized"

    def public_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class WebhookSignatureError(AppError):
    """A webhook whose signature does not prove it came from the sender it claims."""

    http_status = 401
    public_code = "invalid_signature"


def require_crm_api_key(request: Request) -> None:
    """FastAPI dependency: the request must carry `Authorization: Bearer <CRM_API_KEY>`."""
    expected = app_state(request).settings.crm.api_key
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if expected is None or scheme.lower() != "bearer" or not token:
        raise AuthError("missing bearer token")
    if not hmac.compare_digest(token.strip().encode(), expected.get_secret_value().encode()):
        raise AuthError("invalid bearer token")
