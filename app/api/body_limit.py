"""A hard cap on every request body, before any route reads or parses it.

The two intake routes enforce their own, configurable limits (CRM_MAX_EVENT_BYTES,
QBO_MAX_WEBHOOK_BYTES); this cap protects every other route (connections API, card forms), which
FastAPI would otherwise buffer and parse whole, before checking the API key or card token.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.body import BodyTooLargeError
from app.api.errors import error_body

# The connections API and the card forms take a few hundred bytes.
OTHER_ROUTES_MAX_BYTES = 64 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, own_limits: dict[str, int]) -> None:
        self.app = app
        self.own_limits = own_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.own_limits.get(scope["path"], OTHER_ROUTES_MAX_BYTES)
        declared = content_length(scope)
        if declared is not None and declared > limit:
            # Answer from the header: the client is not made to send a body nobody will read.
            response = JSONResponse(
                error_body("body_too_large", str(BodyTooLargeError(limit))),
                status_code=413,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException, because FastAPI turns any other error raised while it
                    # reads a body into a 400.
                    raise HTTPException(413, detail=str(BodyTooLargeError(limit)))
            return message

        await self.app(scope, limited_receive, send)


def content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
