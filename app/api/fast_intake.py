"""The CRM intake served ahead of FastAPI's middleware and router (docs/design.md §5, intake).

`POST /v1/crm/events` takes most of the traffic and its work is small, so the framework's layers
(middleware chain, route matching through every router, dependency solving, Request and
Response objects) were a large part of its CPU. `ServiceApp` answers an accepted or duplicate
event itself, with what the skipped layers add that a client sees: the request id header and
the `http.request` log line. Anything else (a bad signature, an invalid body, an unknown
location, a database fault, an oversize body) goes through the full app with the error already
known: the FastAPI route re-raises it, so error answers come from the one set of handlers and
the event is not verified or stored twice. The route itself stays the documented interface.
"""

from __future__ import annotations

import json
import time

import structlog
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from app.api.body import BodyTooLargeError
from app.api.body_limit import content_length
from app.api.middleware import REQUEST_ID_HEADER, incoming_request_id, log_request
from app.api.routes.crm_events import EVENTS_PATH, PENDING_ERROR_KEY, answer_crm_event
from app.integrations.crm.signatures import SIGNATURE_HEADER
from app.state import AppState

_SIGNATURE = SIGNATURE_HEADER.lower().encode("ascii")


class ServiceApp(FastAPI):
    """FastAPI with the CRM intake's fast path in front."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == EVENTS_PATH
            and scope["method"] == "POST"
            and isinstance(state := getattr(self.state, "qbs", None), AppState)
        ):
            await self._intake(state, scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _intake(self, state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
        limit = state.settings.crm.max_event_bytes
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await super().__call__(scope, receive, send)  # the body limit answers 413
            return
        started = time.perf_counter()
        request_id = incoming_request_id(scope)
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                body = await _read_body(receive, limit)
                if body is None:
                    return  # the client went away: nobody to answer
                code, answer = await answer_crm_event(state, body, _signature(scope))
            except Exception as exc:  # answered by the full app's handlers
                scope[PENDING_ERROR_KEY] = exc
                # The full app's middleware takes the id already in this request's log lines.
                scope["headers"] = [*scope["headers"], (REQUEST_ID_HEADER, request_id.encode())]
                await super().__call__(scope, _no_body, send)
                return
            payload = json.dumps(answer, separators=(",", ":")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode("ascii")),
                        (REQUEST_ID_HEADER, request_id.encode("ascii")),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            log_request(scope, code, started)


def _signature(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _SIGNATURE:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None if the client disconnected; BodyTooLargeError past `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _no_body() -> Message:
    # The fast path has read the body; the route re-raises the error without reading it.
    return {"type": "http.request", "body": b"", "more_body": False}
