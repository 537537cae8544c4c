"""Application factory: one isolated stand-in per call, usable in-process or under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from highlevel_emulator import (
    api_contacts,
    api_payments,
    control,
    control_objects,
    control_payments,
    errors,
    oauth,
)
from highlevel_emulator.config import HighLevelEmulatorConfig
from highlevel_emulator.state import HighLevelEmulator


def create_app(config: HighLevelEmulatorConfig | None = None) -> FastAPI:
    emu = HighLevelEmulator(config or HighLevelEmulatorConfig())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await emu.webhooks.start()
        try:
            yield
        finally:
            await emu.webhooks.aclose()

    app = FastAPI(
        title="HighLevel stand-in",
        lifespan=lifespan,
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )
    app.state.emulator = emu
    for module in (oauth, api_contacts, api_payments, control, control_objects, control_payments):
        app.include_router(module.router)
    app.middleware("http")(_ratelimit_headers)
    app.add_exception_handler(errors.APIError, errors.on_api_error)
    app.add_exception_handler(errors.ControlError, errors.on_control_error)
    return app


async def _ratelimit_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Every counted API answer carries the X-RateLimit-* headers (limits.py)."""
    response = await call_next(request)
    for name, value in getattr(request.state, "ratelimit_headers", {}).items():
        response.headers.setdefault(name, value)
    return response


def emulator_of(app: FastAPI) -> HighLevelEmulator:
    """The state behind an app made by create_app (for in-process tests)."""
    emu = app.state.emulator
    assert isinstance(emu, HighLevelEmulator)
    return emu
