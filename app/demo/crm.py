"""The demo's stand-in CRM: receives the service's signed callbacks and keeps them to show."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.integrations.crm.signatures import SIGNATURE_HEADER, SignatureError, verify

CALLBACK_PATH = "/crm/callbacks"
# Where the connect flow sends the browser back; the demo stops following redirects here.
RETURN_PATH = "/crm/connected"


class DemoCrm:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._lock = threading.Lock()
        self._received: dict[str, dict[str, Any]] = {}
        self.rejected = 0

    def received(self, type_: str | None = None) -> list[dict[str, Any]]:
        """Accepted callbacks, each id once (a real CRM deduplicates on it too)."""
        with self._lock:
            bodies = list(self._received.values())
        return [body for body in bodies if type_ is None or body.get("type") == type_]

    def app(self) -> FastAPI:
        app = FastAPI(title="demo CRM")
        app.add_api_route(CALLBACK_PATH, self._receive, methods=["POST"])
        app.add_api_route(RETURN_PATH, self._connected, methods=["GET"])
        return app

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            verify([self._secret], request.headers.get(SIGNATURE_HEADER), body, now=time.time())
        except SignatureError as exc:
            with self._lock:
                self.rejected += 1
            return JSONResponse({"error": exc.reason}, status_code=401)
        payload: dict[str, Any] = await request.json()
        with self._lock:
            self._received.setdefault(str(payload.get("id")), payload)
        return JSONResponse({"status": "ok"})

    async def _connected(self) -> HTMLResponse:
        return HTMLResponse("<p>Connected. You can close this page.</p>")
