"""An in-process emulator for the conformance tests (no database needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from .emulated import emulator_client


@pytest.fixture
async def emu_http() -> AsyncIterator[httpx.AsyncClient]:
    async for client in emulator_client():
        yield client
