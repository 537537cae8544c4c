"""Error answers: the API's (apps/v3/common/common-schemas.json DTOs) and the control API's."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from highlevel_emulator.money import plain


class APIError(Exception):
    """An API answer in HighLevel's common error shape: statusCode, message[, error]."""

    def __init__(
        self,
        status: int,
        message: str | list[str],
        error: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.status = status
        self.body: dict[str, Any] = {"statusCode": status, "message": message}
        if error:
            self.body["error"] = error
        self.headers = headers or {}


def unauthorized() -> APIError:
    # UnauthorizedDTO example message.
    return APIError(401, "Invalid token: access token is invalid", "Unauthorized")


def forbidden() -> APIError:
    # ForbiddenDTO example message.
    return APIError(403, "You do not have permission to access this resource", "Forbidden")


def not_found(what: str) -> APIError:
    # NotFoundDTO carries statusCode and message; the message text is the stand-in's.
    return APIError(404, f"{what} not found")


def unprocessable(messages: list[str]) -> APIError:
    # UnprocessableDTO: message is a list of strings, error "Unprocessable Entity".
    return APIError(422, messages, "Unprocessable Entity")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def on_control_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ControlError)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


def json_response(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(plain(value), status_code=status)


async def _read(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def api_body(request: Request) -> dict[str, Any]:
    body = await _read(request)
    if not isinstance(body, dict):
        raise APIError(400, "the body must be a JSON object", "Bad Request")
    return body


async def control_body(request: Request) -> dict[str, Any]:
    body = await _read(request)
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body
