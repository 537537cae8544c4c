"""The sandbox glue end to end, the emulator standing in for Intuit: a location connected
through the service's normal OAuth flow, its token taken from the token manager, the checks run
on its company and what they made taken away."""

from __future__ import annotations

import httpx
import pytest

from app.config import QboEnvironment, Settings
from app.db.session import SessionFactory
from app.integrations.quickbooks.contract import checks_api, checks_names
from app.services.locations import UnknownLocationError
from app.services.verify_qbo import VerifyRefusedError, run_on_sandbox
from app.wiring import build_services
from qbo_emulator.config import EmulatorConfig


@pytest.fixture
def emulator_config(auto_consent_config: EmulatorConfig) -> EmulatorConfig:
    return auto_consent_config


CHECKS = (checks_api.CHECKS[3], checks_names.CHECKS[2])  # unknown property, inactive names


async def test_checks_run_on_the_connected_company(
    live_service: tuple[str, Settings], connected_realm: str, db: SessionFactory
) -> None:
    _, settings = live_service
    settings.qbo.environment = QboEnvironment.SANDBOX  # the emulator stands in for Intuit

    async with build_services(settings, db) as services:
        report = await run_on_sandbox(settings, db, services.tokens, services.http, "loc_1", CHECKS)

    assert report.target == "sandbox"
    assert report.realm_id == connected_realm
    assert [(c.name, c.verdict.value) for c in report.checks] == [
        ("unknown property", "pass"),
        ("inactive names", "pass"),
    ]
    # What was made (the unknown property was refused): the customer, reactivated by the check,
    # and the item whose name the second item could not take, both made inactive.
    assert [(e["entity"], e["action"]) for e in report.cleanup] == [
        ("Customer", "made inactive"),
        ("Item", "made inactive"),
    ]
    async with httpx.AsyncClient() as http:
        url = f"{settings.qbo.api_base_url}/_emulator/companies/{connected_realm}/entities/customer"
        customers = (await http.get(url)).json()["Customer"]
    made = [c for c in customers if c["DisplayName"].startswith(f"qbs-verify-{report.run_id}")]
    assert made
    assert all(c["Active"] is False for c in made)


async def test_an_unknown_location_is_refused(
    live_service: tuple[str, Settings], db: SessionFactory
) -> None:
    _, settings = live_service
    settings.qbo.environment = QboEnvironment.SANDBOX

    async with build_services(settings, db) as services:
        with pytest.raises(UnknownLocationError):
            await run_on_sandbox(settings, db, services.tokens, services.http, "nope", CHECKS)
        settings.qbo.environment = QboEnvironment.PRODUCTION
        with pytest.raises(VerifyRefusedError, match="never runs against a live company"):
            await run_on_sandbox(settings, db, services.tokens, services.http, "loc_1", CHECKS)
