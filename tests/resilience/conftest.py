"""Fixtures of the resilience tests: the live service with its worker, quick retries, a second
worker, and the emulator consenting on its own (so many locations can be connected quickly)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.config import Settings
from app.db.provision import Database
from app.integrations.quickbooks import errors as qbo_errors
from app.main import create_app
from qbo_emulator.config import EmulatorConfig
from tests.fixtures.live import free_port, serve
from tests.resilience import sizes

# The job runner's backoff (QBS_WORKER_RETRY_*): seconds instead of minutes, so a retry after
# the faults are switched off comes within the test. The attempt limit stays the service's own.
QUICK_RETRY_ENV = {"QBS_WORKER_RETRY_BASE_S": "0.2", "QBS_WORKER_RETRY_CAP_S": "2"}


@pytest.fixture
def emulator_config(auto_consent_config: EmulatorConfig) -> EmulatorConfig:
    """Consent without a click, for the company created last (see `load.connect_locations`)."""
    return auto_consent_config


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in QUICK_RETRY_ENV.items():
        monkeypatch.setenv(name, value)
    if sizes.THROTTLE_WAIT_S is not None:
        # No setting exists for this wait (QBO's documented 60 s when a 429 has no Retry-After).
        monkeypatch.setattr(qbo_errors, "THROTTLE_DEFAULT_WAIT_S", sizes.THROTTLE_WAIT_S)


@pytest.fixture
def run_worker(quick_retries: None) -> bool:
    """The live service runs its worker, retrying quickly (set before `live_service` reads it)."""
    return True


@pytest.fixture
def second_worker(live_service: tuple[str, Settings], database_url: str) -> Iterator[str]:
    """A second replica (API and worker, in a thread of its own) on the same database."""
    _, settings = live_service
    app = create_app(settings, run_worker=True, database=Database(database_url))
    with serve(app, free_port()) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """One client for the test's requests. Idle connections are dropped after 2 s, before
    uvicorn closes them (5 s): reusing one as the server closes it fails the request."""
    limits = httpx.Limits(keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        yield client
