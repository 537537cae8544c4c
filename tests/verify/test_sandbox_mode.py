"""Sandbox mode with the emulator standing in for the sandbox (it speaks the same API): one
shared company, objects named with the run's prefix, taken away again even when a check fails,
checks the company cannot run skipped, and nothing without the prefix touched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from app.config import QboEnvironment, QboSettings, Settings
from app.integrations.quickbooks.contract import Check, SandboxTarget, Verdict, run_checks
from app.integrations.quickbooks.contract.cleanup import Tracker, clean_up, run_prefix
from app.integrations.quickbooks.contract.model import Needs, Outcome
from app.integrations.quickbooks.contract.raw import Answer, RawQbo
from app.integrations.quickbooks.contract.session import CheckSession
from app.services.verify_qbo import VerifyRefusedError, refuse_unless_sandbox


@dataclass
class Sandbox:
    http: httpx.AsyncClient
    url: str
    realm_id: str
    token: str

    async def token_source(self) -> str:
        return self.token

    def target(self) -> SandboxTarget:
        return SandboxTarget(self.http, self.url, self.realm_id, self.token_source)

    def raw(self) -> RawQbo:
        return RawQbo(self.http, self.url, self.realm_id, self.token_source)

    async def stored(self, entity: str) -> list[dict[str, object]]:
        """Every stored object of a type, inactive ones too (the emulator's control API)."""
        answer = await self.http.get(
            f"{self.url}/_emulator/companies/{self.realm_id}/entities/{entity.lower()}"
        )
        answer.raise_for_status()
        rows = answer.json()[entity]
        assert isinstance(rows, list)
        return rows


@pytest.fixture
async def sandbox(emulator: str) -> AsyncIterator[Sandbox]:
    async with httpx.AsyncClient(timeout=30) as http:
        made = await http.post(f"{emulator}/_emulator/companies", json={"country": "US"})
        realm_id = made.json()["realm_id"]
        minted = await http.post(f"{emulator}/_emulator/companies/{realm_id}/tokens")
        yield Sandbox(http, emulator, realm_id, minted.json()["access_token"])


async def _fails_after_creating(session: CheckSession) -> Outcome:
    await session.invoice(
        [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal(10),
                "SalesItemLineDetail": {"ItemRef": {"value": await session.item_id()}},
            }
        ]
    )
    raise RuntimeError("the check broke half-way")


async def _never_runs(session: CheckSession) -> Outcome:
    raise AssertionError("an AU check must not run on a US company")


FAILING = Check(
    name="fails half-way",
    source="a synthetic check for this test",
    sends="a customer, an item and an invoice, then an exception",
    expects="-",
    run=_fails_after_creating,
)
AU_ONLY = Check(
    name="needs AU",
    source="a synthetic check for this test",
    sends="-",
    expects="-",
    run=_never_runs,
    needs=Needs(country="AU"),
)


async def test_a_failed_check_still_cleans_up_its_prefixed_objects(sandbox: Sandbox) -> None:
    report = await run_checks(sandbox.target(), [FAILING, AU_ONLY], "abc123")

    failed, skipped = report.checks
    assert failed.verdict is Verdict.ERROR
    assert "the check broke half-way" in failed.observed
    assert skipped.verdict is Verdict.SKIPPED
    assert "needs a AU company; this one is US" in skipped.observed
    assert report.target == "sandbox"
    assert report.realm_id == sandbox.realm_id
    assert not report.all_passed

    prefix = run_prefix("abc123")
    customers = await sandbox.stored("Customer")
    items = [i for i in await sandbox.stored("Item") if str(i["Name"]).startswith(prefix)]
    invoices = await sandbox.stored("Invoice")
    assert [c["DisplayName"] for c in customers] == [f"{prefix}-c1-2-customer (deleted)"]
    assert all(c["Active"] is False for c in customers)
    assert [i["Active"] for i in items] == [False]
    assert [str(i["PrivateNote"])[:6] for i in invoices] == ["Voided"]
    assert {(e["entity"], e["action"]) for e in report.cleanup} == {
        ("Invoice", "voided"),
        ("Customer", "made inactive"),
        ("Item", "made inactive"),
    }


async def test_cleanup_leaves_an_object_without_the_prefix_alone(sandbox: Sandbox) -> None:
    qbo = sandbox.raw()
    theirs = await qbo.create("Customer", {"DisplayName": "A real customer"})
    tracker = Tracker(run_prefix("abc123"))
    tracker.note("Customer", theirs)

    results = await clean_up(qbo, tracker)

    assert results[0]["action"].startswith("left alone")
    read: Answer = await qbo.read("Customer", theirs.entity("Customer")["Id"])
    assert read.entity("Customer")["Active"] is True
    assert read.entity("Customer")["DisplayName"] == "A real customer"


def _settings(environment: QboEnvironment, api_base_url: str | None = None) -> Settings:
    return Settings(
        qbo=QboSettings(
            environment=environment,
            api_base_url=api_base_url,
            client_id="id",
            client_secret=SecretStr("secret"),
        )
    )


def test_only_a_sandbox_is_accepted() -> None:
    assert refuse_unless_sandbox(_settings(QboEnvironment.SANDBOX)).startswith(
        "https://sandbox-quickbooks.api.intuit.com"
    )
    with pytest.raises(VerifyRefusedError, match="never runs against a live company"):
        refuse_unless_sandbox(_settings(QboEnvironment.PRODUCTION))
    with pytest.raises(VerifyRefusedError, match="production API"):
        refuse_unless_sandbox(
            _settings(QboEnvironment.SANDBOX, "https://quickbooks.api.intuit.com")
        )
    with pytest.raises(VerifyRefusedError, match="QBO_ENVIRONMENT=sandbox"):
        refuse_unless_sandbox(_settings(QboEnvironment.EMULATOR))
