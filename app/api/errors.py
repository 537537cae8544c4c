"""One place that turns errors into HTTP answers: `{"error", "detail", "errors"?}`."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from procrastinate.exceptions import ConnectorException
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.auth import AuthError, WebhookSignatureError
from app.api.body import BodyTooLargeError
from app.integrations.crm.schemas import EventValidationError
from app.integrations.crm.signatures import SignatureError
from app.logging import get_logger
from app.services.intake import EventConflictError, UnknownLocationError
from app.sync.connections.connect import ConnectRequestError
from app.sync.connections.retry import EntryNotFoundError, NotRetryableError

log = get_logger(__name__)


def error_body(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail, **extra}


def _json(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(error, detail, **extra), status_code=status)


async def _signature(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SignatureError)
    return _json(401, "invalid_signature", str(exc), reason=exc.reason)


async def _webhook_signature(_: Request, exc: Exception) -> JSONResponse:
    return _json(401, "invalid_signature", str(exc))


async def _auth(_: Request, exc: Exception) -> JSONResponse:
    response = _json(401, "unauthorized", str(exc))
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    return _json(413, "body_too_large", str(exc))


async def _event_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EventValidationError)
    errors = [{"path": e.path, "message": e.message} for e in exc.errors]
    return _json(422, "invalid_event", "the event failed validation", errors=errors)


async def _request_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"path": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    return _json(422, "invalid_request", "the request failed validation", errors=errors)


async def _connect_request(_: Request, exc: Exception) -> JSONResponse:
    return _json(422, "invalid_connect_request", str(exc))


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return _json(404, "not_found", str(exc))


async def _not_retryable(_: Request, exc: Exception) -> JSONResponse:
    return _json(409, "not_retryable", str(exc))


async def _unknown_location(_: Request, exc: Exception) -> JSONResponse:
    return _json(404, "unknown_location", str(exc))


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return _json(409, "event_conflict", str(exc))


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    # Input validation should have caught it (e.g. a NUL in a path parameter): say so loudly.
    log.error("http.request.unstorable_value", path=request.url.path, error=type(exc).__name__)
    return _json(422, "invalid_request", "the request contains a value that cannot be stored")


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database is down or saturated: the sender should retry; nothing was stored.
    log.error("db.unavailable", path=request.url.path, error=type(exc).__name__)
    response = _json(503, "unavailable", "the database is unavailable; retry later")
    response.headers["Retry-After"] = "5"
    return response


_HTTP_ERROR_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    # Starlette's own errors (unknown path, wrong method, a body FastAPI could not read) in the
    # same {error, detail} shape as ours.
    assert isinstance(exc, StarletteHTTPException)
    response = _json(
        exc.status_code, _HTTP_ERROR_CODES.get(exc.status_code, "http_error"), str(exc.detail)
    )
    response.headers.update(exc.headers or {})
    return response


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SignatureError, _signature)
    app.add_exception_handler(AuthError, _auth)
    app.add_exception_handler(WebhookSignatureError, _webhook_signature)
    app.add_exception_handler(BodyTooLargeError, _too_large)
    app.add_exception_handler(EventValidationError, _event_invalid)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(UnknownLocationError, _unknown_location)
    app.add_exception_handler(ConnectRequestError, _connect_request)
    app.add_exception_handler(EntryNotFoundError, _not_found)
    app.add_exception_handler(NotRetryableError, _not_retryable)
    app.add_exception_handler(EventConflictError, _conflict)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(psycopg.DataError, _unstorable_value)
    for db_error in (
        OperationalError,
        InterfaceError,
        PoolTimeoutError,
        PoolTimeout,
        psycopg.OperationalError,
        psycopg.InterfaceError,
        ConnectorException,
        ConnectionError,
    ):
        app.add_exception_handler(db_error, _database_unavailable)
