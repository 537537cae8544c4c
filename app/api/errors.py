"""One place that turns errors into HTTP answers: `{"error", "detail", "errors"?, "reason"?}`.

Every AppError is answered by `_app_error` from what its class declares (app/errors.py):
`http_status`, `public_code`, `public_detail()`, `public_fields()`, `public_headers()`. A new
error class needs no registration here; one without a declaration inherits its base's answer.
The other handlers are for what the framework and the database drivers raise."""

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

from app.errors import AppError
from app.logging import get_logger

log = get_logger(__name__)


def error_body(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail, **extra}


def _json(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(error, detail, **extra), status_code=status)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.http_status >= 500:
        # The detail is generic (app/errors.py); what happened goes to the log.
        log.error(
            "http.request.failed",
            path=request.url.path,
            error=type(exc).__name__,
            message=str(exc),
            status=exc.http_status,
        )
    response = _json(exc.http_status, exc.public_code, exc.public_detail(), **exc.public_fields())
    response.headers.update(exc.public_headers())
    return response


async def _request_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"path": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    return _json(422, "invalid_request", "the request failed validation", errors=errors)


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
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
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
