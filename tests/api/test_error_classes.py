"""Every AppError answers with the status and code its class declares, in the error shape.

The errors are found by walking app/ (every module imported, every AppError subclass), so an
error added later is checked without anyone listing it here; no handler has to be registered.
No database: the real handlers sit behind routes that raise.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import app
from app.api.auth import AuthError, WebhookSignatureError
from app.api.body import BodyTooLargeError
from app.api.errors import register_error_handlers
from app.errors import UNEXPECTED_DETAIL, AppError, PermanentError, TransientError
from app.integrations.crm.callbacks import CallbackRejectedError
from app.integrations.crm.schemas import EventValidationError, FieldError
from app.integrations.crm.signatures import SignatureError
from app.integrations.highlevel.http import HighLevelApiError, HighLevelUnauthorizedError
from app.integrations.highlevel.oauth import HighLevelGrantError
from app.integrations.highlevel.signatures import HighLevelSignatureError
from app.integrations.quickbooks.auth import OAuthGrantError
from app.services.highlevel_tokens import HighLevelNotConnected
from app.services.intake import EventConflictError
from app.services.locations import UnknownLocationError
from app.services.tokens import ConnectionPausedError
from app.sync.connections.connect import ConnectRequestError, LocationIdError
from app.sync.connections.release import NoCompanyError
from app.sync.connections.retry import EntryNotFoundError, NotRetryableError
from tests.api.test_openapi import _app as documented_app
from tests.api.test_openapi import _validator

# What clients have been answered all along: these must not change.
PUBLIC = {
    AuthError: (401, "unauthorized"),
    WebhookSignatureError: (401, "invalid_signature"),
    SignatureError: (401, "invalid_signature"),
    BodyTooLargeError: (413, "body_too_large"),
    EventValidationError: (422, "invalid_event"),
    ConnectRequestError: (422, "invalid_connect_request"),
    UnknownLocationError: (404, "unknown_location"),
    EntryNotFoundError: (404, "not_found"),
    NotRetryableError: (409, "not_retryable"),
    EventConflictError: (409, "event_conflict"),
    NoCompanyError: (409, "no_company"),
}

# Classes whose constructor is not (message: str): how to make one.
EXAMPLES: dict[type[AppError], Callable[[], AppError]] = {
    SignatureError: lambda: SignatureError("stale", "X-Signature timestamp is too old"),
    EventValidationError: lambda: EventValidationError([FieldError("data.totals.total", "bad")]),
    BodyTooLargeError: lambda: BodyTooLargeError(10),
    UnknownLocationError: lambda: UnknownLocationError("loc_x"),
    EventConflictError: lambda: EventConflictError("evt_x"),
    NoCompanyError: lambda: NoCompanyError("loc_x"),
    LocationIdError: LocationIdError,
    ConnectionPausedError: lambda: ConnectionPausedError("9130", "disconnected"),
    CallbackRejectedError: lambda: CallbackRejectedError(422, "no"),
    OAuthGrantError: lambda: OAuthGrantError("invalid_grant", "expired"),
    HighLevelApiError: lambda: HighLevelApiError("POST", "/contacts/upsert", 422, "bad"),
    HighLevelUnauthorizedError: lambda: HighLevelUnauthorizedError("GET", "/contacts/", 401, ""),
    HighLevelGrantError: lambda: HighLevelGrantError(401, "invalid_grant"),
    HighLevelNotConnected: lambda: HighLevelNotConnected("loc_x", "the app is not installed"),
    HighLevelSignatureError: lambda: HighLevelSignatureError("mismatch", "bad X-GHL-Signature"),
}


def _import_all() -> None:
    for module in pkgutil.walk_packages(app.__path__, prefix="app."):
        importlib.import_module(module.name)


def _subclasses(cls: type[AppError]) -> list[type[AppError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += [c for c in _subclasses(sub) if c not in found]
    return found


_import_all()
ALL_ERRORS = sorted(set(_subclasses(AppError)), key=lambda c: f"{c.__module__}.{c.__name__}")


def _instance(cls: type[AppError]) -> AppError:
    make = EXAMPLES.get(cls)
    if make is not None:
        return make()
    try:
        return cls("something went wrong")
    except TypeError as exc:  # pragma: no cover - tells the author of a new class what to do
        raise AssertionError(f"add an example of {cls.__name__} to EXAMPLES") from exc


def _failing_app(errors: list[AppError]) -> FastAPI:
    service = FastAPI()
    register_error_handlers(service)
    for n, error in enumerate(errors):
        service.add_api_route(f"/{n}", _raising(error))
    return service


def _raising(error: AppError) -> Callable[[], Any]:
    async def fail() -> None:
        raise error

    return fail


async def _answers(errors: list[AppError]) -> list[httpx.Response]:
    # raise_app_exceptions: an error without a handler would surface here, not as a 500 page.
    transport = httpx.ASGITransport(app=_failing_app(errors))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return [await http.get(f"/{n}") for n in range(len(errors))]


@pytest.fixture(scope="module")
def error_body() -> Any:
    return _validator(documented_app().openapi(), {"$ref": "#/components/schemas/ErrorBody"})


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    assert set(PUBLIC) <= set(ALL_ERRORS)
    modules = {cls.__module__.split(".")[1] for cls in ALL_ERRORS}
    assert {"api", "integrations", "services", "sync"} <= modules


async def test_every_app_error_answers_with_its_declared_status_and_code(error_body: Any) -> None:
    errors = [_instance(cls) for cls in ALL_ERRORS]
    for error, response in zip(errors, await _answers(errors), strict=True):
        cls = type(error)
        where = f"{cls.__module__}.{cls.__name__}"
        assert response.status_code == cls.http_status, where
        body = response.json()
        error_body.validate(body)
        assert body["error"] == cls.public_code, where
        if cls.http_status >= 500:  # the message stays in the log
            assert "something went wrong" not in body["detail"], where
        else:
            assert body["detail"] == error.public_detail(), where
        if isinstance(error, TransientError):
            assert int(response.headers["Retry-After"]) >= 1, where


async def test_what_clients_see_is_unchanged() -> None:
    errors = [_instance(cls) for cls in PUBLIC]
    answers = await _answers(errors)
    seen = {
        type(e): (r.status_code, r.json()["error"]) for e, r in zip(errors, answers, strict=True)
    }
    assert seen == PUBLIC
    by_class = dict(zip(PUBLIC, answers, strict=True))
    assert by_class[AuthError].headers["WWW-Authenticate"] == "Bearer"
    assert by_class[SignatureError].json()["reason"] == "stale"
    invalid = by_class[EventValidationError].json()
    assert invalid["detail"] == "the event failed validation"
    assert invalid["errors"] == [{"path": "data.totals.total", "message": "bad"}]
    assert by_class[UnknownLocationError].json()["detail"] == (
        "location 'loc_x' is not known to this service; register it with POST /v1/connections first"
    )


class _ForgottenError(AppError):
    """An error someone added without saying how HTTP sees it."""


class _ForgottenPermanentError(PermanentError):
    pass


class _ForgottenTransientError(TransientError):
    pass


class _NarrowerUnknownLocationError(UnknownLocationError):
    pass


async def test_an_undeclared_error_gets_its_base_s_answer() -> None:
    errors: list[AppError] = [
        _ForgottenError("secret detail"),
        _ForgottenPermanentError("secret detail"),
        _ForgottenTransientError("secret detail", retry_after_s=61.5),
        _ForgottenTransientError("secret detail"),
        _NarrowerUnknownLocationError("loc_y"),
    ]
    forgotten, permanent, slow, quick, narrower = await _answers(errors)
    for unexpected in (forgotten, permanent):
        assert unexpected.status_code == 500
        assert unexpected.json() == {"error": "internal_error", "detail": UNEXPECTED_DETAIL}
    assert (slow.status_code, slow.json()["error"]) == (503, "unavailable")
    assert "secret detail" not in slow.json()["detail"]
    assert (slow.headers["Retry-After"], quick.headers["Retry-After"]) == ("62", "5")
    assert (narrower.status_code, narrower.json()["error"]) == (404, "unknown_location")
