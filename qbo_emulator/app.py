"""Application factory: one isolated emulator per call, usable in-process or under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

# Importing these registers the entity handlers with the service layer.
from qbo_emulator import accounting, control, names, oauth, payments, refunds, sales  # noqa: F401
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.faults import QBOFault
from qbo_emulator.guard import AccountingGuard
from qbo_emulator.jsonutil import dumps
from qbo_emulator.state import Emulator


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    emu = Emulator(config or EmulatorConfig())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await emu.webhooks.start()
        try:
            yield
        finally:
            await emu.webhooks.aclose()

    app = FastAPI(
        title="QuickBooks Online emulator",
        lifespan=lifespan,
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )
    app.state.emulator = emu
    app.include_router(oauth.router)
    app.include_router(control.router)
    app.include_router(accounting.router)

    async def on_fault(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, QBOFault)
        body = dumps(exc.body(emu.clock.response_time()))
        return Response(body, status_code=exc.status, media_type=accounting.JSON_MEDIA)

    async def on_control_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, control.ControlError)
        return control.control_error_response(exc)

    app.add_exception_handler(QBOFault, on_fault)
    app.add_exception_handler(control.ControlError, on_control_error)
    app.add_middleware(AccountingGuard, emu=emu)
    return app


def emulator_of(app: FastAPI) -> Emulator:
    """The state behind an app made by create_app (for in-process tests)."""
    emu = app.state.emulator
    assert isinstance(emu, Emulator)
    return emu
