"""POST /v1/crm/events against a real database and job queue."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from app.db.session import SessionFactory, session_scope
from app.integrations.quickbooks.query import quote
from app.models import CrmEvent
from app.state import AppState
from tests.fixtures.events import (
    CONTACT,
    LINES,
    PostEvent,
    contact_event,
    encode,
    invoice_event,
    payment_event,
    signed_headers,
)

pytestmark = pytest.mark.usefixtures("location")


async def counts(factory: SessionFactory) -> tuple[int, int]:
    """(stored events, queued jobs)."""
    async with factory() as session:
        events = (await session.execute(select(func.count()).select_from(CrmEvent))).scalar_one()
        jobs = (await session.execute(text("SELECT count(*) FROM procrastinate_jobs"))).scalar_one()
    return events, jobs


class TestSignature:
    async def test_valid_signature_is_accepted_and_scheduled(
        self, post_event: PostEvent, db: SessionFactory
    ) -> None:
        response = await post_event(invoice_event())
        assert response.status_code == 202
        assert response.json() == {"id": "evt_inv_1", "status": "accepted"}
        assert await counts(db) == (1, 1)

    async def test_tampered_body_is_rejected(
        self, client: httpx.AsyncClient, db: SessionFactory
    ) -> None:
        body = encode(invoice_event())
        headers = signed_headers(body)
        tampered = body.replace(b"115.42", b"915.42")
        response = await client.post("/v1/crm/events", content=tampered, headers=headers)
        assert response.status_code == 401
        assert response.json()["reason"] == "mismatch"
        assert await counts(db) == (0, 0)

    async def test_wrong_secret_is_rejected(self, post_event: PostEvent) -> None:
        response = await post_event(invoice_event(), secret="not-the-secret")
        assert response.status_code == 401

    @pytest.mark.parametrize(("offset", "reason"), [(-301, "stale"), (301, "future")])
    async def test_timestamps_beyond_300_seconds_are_rejected(
        self, post_event: PostEvent, offset: int, reason: str
    ) -> None:
        response = await post_event(invoice_event(), at=int(time.time()) + offset)
        assert response.status_code == 401
        assert response.json()["reason"] == reason

    async def test_small_clock_skew_is_tolerated(self, post_event: PostEvent) -> None:
        response = await post_event(invoice_event(), at=int(time.time()) - 200)
        assert response.status_code == 202

    @pytest.mark.parametrize(
        "header", [None, "", "garbage", "t=abc,v1=00", "t=1700000000", "v1=deadbeef"]
    )
    async def test_missing_or_malformed_header_is_rejected(
        self, client: httpx.AsyncClient, header: str | None, db: SessionFactory
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["X-Signature"] = header
        response = await client.post(
            "/v1/crm/events", content=encode(invoice_event()), headers=headers
        )
        assert response.status_code == 401
        assert response.json()["reason"] in {"missing", "malformed"}
        assert await counts(db) == (0, 0)


class TestIdempotency:
    async def test_same_event_twice_is_a_duplicate(
        self, post_event: PostEvent, db: SessionFactory
    ) -> None:
        first = await post_event(invoice_event())
        second = await post_event(invoice_event())
        assert (first.status_code, second.status_code) == (202, 200)
        assert second.json() == {"id": "evt_inv_1", "status": "duplicate"}
        assert await counts(db) == (1, 1)

    async def test_reformatted_same_body_is_still_a_duplicate(
        self, client: httpx.AsyncClient, post_event: PostEvent
    ) -> None:
        await post_event(invoice_event())
        import json

        pretty = json.dumps(invoice_event(), indent=2, sort_keys=True).encode()
        response = await client.post(
            "/v1/crm/events", content=pretty, headers=signed_headers(pretty)
        )
        assert response.status_code == 200

    async def test_same_id_different_body_conflicts(
        self, post_event: PostEvent, db: SessionFactory
    ) -> None:
        await post_event(invoice_event())
        changed = invoice_event(number="INV-9999")
        response = await post_event(changed)
        assert response.status_code == 409
        assert response.json()["error"] == "event_conflict"
        assert await counts(db) == (1, 1)

    async def test_twenty_concurrent_deliveries_store_one_event_and_one_job(
        self, post_event: PostEvent, db: SessionFactory
    ) -> None:
        responses = await asyncio.gather(*(post_event(invoice_event()) for _ in range(20)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 19 + [202]
        assert await counts(db) == (1, 1)


_FAIL_JOB_INSERTS = """
CREATE FUNCTION qbs_test_fail_job_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'queue unavailable' USING ERRCODE = '57P01';
END $$;
CREATE TRIGGER qbs_test_fail_job_insert BEFORE INSERT ON procrastinate_jobs
    FOR EACH ROW EXECUTE FUNCTION qbs_test_fail_job_insert();
"""
_ALLOW_JOB_INSERTS = """
DROP TRIGGER IF EXISTS qbs_test_fail_job_insert ON procrastinate_jobs;
DROP FUNCTION IF EXISTS qbs_test_fail_job_insert();
"""


class TestAtomicity:
    async def test_failed_job_insert_rejects_the_request_and_stores_nothing(
        self, post_event: PostEvent, db: SessionFactory
    ) -> None:
        # The job insert fails after the event row was inserted in the same statement.
        async with session_scope(db) as session:
            await session.execute(text(_FAIL_JOB_INSERTS))
        try:
            response = await post_event(invoice_event())
            assert response.status_code == 503
            assert await counts(db) == (0, 0)
        finally:
            async with session_scope(db) as session:
                await session.execute(text(_ALLOW_JOB_INSERTS))
        # The sender retries and the event is then stored normally.
        assert (await post_event(invoice_event())).status_code == 202
        assert await counts(db) == (1, 1)

    async def test_the_queued_job_points_at_the_event_under_its_objects_lock(
        self, post_event: PostEvent, db: SessionFactory
    ) -> None:
        await post_event(payment_event("evt_pay", invoice_id="inv_9", source="invoice"))
        async with db() as session:
            row_id = (await session.execute(select(CrmEvent.id))).scalar_one()
            job = (
                await session.execute(
                    text("SELECT task_name, queue_name, lock, args, status FROM procrastinate_jobs")
                )
            ).one()
        # A payment of an invoice queues behind the invoice's own events.
        assert tuple(job) == (
            "crm.event.process",
            "default",
            "crm:loc_1:invoice:inv_9",
            {"event_row_id": row_id},
            "todo",
        )


class TestValidation:
    @pytest.mark.parametrize(
        "payload",
        [
            invoice_event(type_="invoice.sent"),
            invoice_event("e2", type_="invoice.updated"),
            invoice_event("e3", type_="invoice.partially_paid", status="partially_paid"),
            invoice_event("e4", type_="invoice.paid", status="paid"),
            invoice_event("e5", type_="invoice.voided", status="void"),
            payment_event(),
            payment_event("e6", source="invoice", invoice_id="inv_1"),
            contact_event(),
        ],
        ids=lambda p: p["type"] + ":" + p["id"],
    )
    async def test_every_event_type_is_accepted(
        self, post_event: PostEvent, payload: dict[str, Any]
    ) -> None:
        response = await post_event(payload)
        assert response.status_code == 202, response.text

    async def test_money_is_stored_exactly(self, post_event: PostEvent, db: SessionFactory) -> None:
        await post_event(
            invoice_event(line_items=[{"name": "X", "quantity": 3, "unit_price": 0.1}])
        )
        async with db() as session:
            payload = (await session.execute(select(CrmEvent.payload))).scalar_one()
        assert payload["data"]["line_items"][0]["unit_price"] == "0.1"

    @pytest.mark.parametrize(
        ("payload", "path"),
        [
            (
                invoice_event(
                    totals={
                        "subtotal": "abc",
                        "discount": "0",
                        "tax": "0",
                        "total": "1",
                        "amount_paid": "0",
                        "amount_due": "1",
                    }
                ),
                "data.totals.subtotal",
            ),
            (
                invoice_event(
                    totals={
                        "subtotal": "1",
                        "discount": "0",
                        "tax": "0",
                        "total": 1.234,
                        "amount_paid": "0",
                        "amount_due": "1",
                    }
                ),
                "data.totals.total",
            ),
            (invoice_event(issue_date="01/11/2026"), "data.issue_date"),
            (invoice_event(created_at="2026-11-01T09:00:00"), "data.created_at"),
            (invoice_event(currency="usd"), "data.currency"),
            (invoice_event(line_items=[]), "data.line_items"),
        ],
    )
    async def test_bad_values_give_422_with_the_field_path(
        self, post_event: PostEvent, payload: dict[str, Any], path: str, db: SessionFactory
    ) -> None:
        response = await post_event(payload)
        assert response.status_code == 422
        assert path in [error["path"] for error in response.json()["errors"]]
        assert await counts(db) == (0, 0)

    @pytest.mark.parametrize(
        ("payload", "path"),
        [
            (contact_event(email="ann\u0001@example.com"), "data.email"),
            (contact_event(email="ann\t@example.com"), "data.email"),
            (contact_event(first_name="An\u001bn"), "data.first_name"),
            (contact_event(company_name="Bakery\u007f"), "data.company_name"),
            (contact_event(address={"line1": "1 Main\u0002 St"}), "data.address.line1"),
            (
                invoice_event(contact={**CONTACT, "last_name": "O\u0008Neil"}),
                "data.contact.last_name",
            ),
            (
                invoice_event(line_items=[{**LINES[1], "name": "Travel\u0003"}]),
                "data.line_items.0.name",
            ),
            (invoice_event(billing_email="bill\u000b@example.com"), "data.billing_email"),
        ],
    )
    async def test_text_quickbooks_cannot_take_gives_422_with_the_field_path(
        self, post_event: PostEvent, payload: dict[str, Any], path: str, db: SessionFactory
    ) -> None:
        """Failure mode "poison event": a control character in an email, a name or an address
        would make QuickBooks (or the query that finds the customer) refuse the object for ever;
        it is refused at intake, with the field, and nothing is stored."""
        response = await post_event(payload)
        assert response.status_code == 422
        errors = {error["path"]: error["message"] for error in response.json()["errors"]}
        assert "control characters" in errors[path]
        assert await counts(db) == (0, 0)

    async def test_every_character_the_query_builder_refuses_is_refused_in_an_email(
        self, post_event: PostEvent
    ) -> None:
        """Failure mode "poison event": intake and the QBO query builder agree, so an email that
        was accepted can always be looked up in QuickBooks."""
        for code in [*range(0x20), 0x7F]:
            email = f"ann{chr(code)}x@example.com"
            with pytest.raises(ValueError, match="control characters"):
                quote(email)
            response = await post_event(contact_event(f"evt_{code}", email=email))
            assert response.status_code == 422, (code, response.text)
        # Tab and newline stay allowed in free text (names turn them into spaces).
        ok = await post_event(contact_event("evt_ok", first_name="Ann\tMarie\nLee"))
        assert ok.status_code == 202, ok.text

    async def test_missing_fields_are_all_listed(self, post_event: PostEvent) -> None:
        payload = invoice_event()
        del payload["data"]["number"]
        del payload["data"]["contact"]
        del payload["occurred_at"]
        response = await post_event(payload)
        assert response.status_code == 422
        paths = {error["path"] for error in response.json()["errors"]}
        assert {"data.number", "data.contact", "occurred_at"} <= paths

    async def test_unknown_type_names_the_type_field(self, post_event: PostEvent) -> None:
        payload = invoice_event(type_="invoice.exploded")
        response = await post_event(payload)
        assert response.status_code == 422
        assert [e["path"] for e in response.json()["errors"]] == ["type"]

    @pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b'{"id": NaN}'])
    async def test_bodies_that_are_not_events_give_422(
        self, post_event: PostEvent, body: bytes
    ) -> None:
        response = await post_event(body)
        assert response.status_code == 422


class TestLocationsAndLimits:
    async def test_unknown_location_is_404(self, post_event: PostEvent, db: SessionFactory) -> None:
        payload = invoice_event()
        payload["location_id"] = "someone_else"
        response = await post_event(payload)
        assert response.status_code == 404
        assert await counts(db) == (0, 0)

    async def test_body_over_the_limit_is_413(self, post_event: PostEvent, state: AppState) -> None:
        padding = "x" * state.settings.crm.max_event_bytes
        response = await post_event(invoice_event(number="INV-1", extra=padding))
        assert response.status_code == 413

    async def test_large_streamed_body_without_length_is_413(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        limit = state.settings.crm.max_event_bytes

        async def chunks() -> Any:
            for _ in range(limit // 1024 + 2):
                yield b"x" * 1024

        response = await client.post(
            "/v1/crm/events", content=chunks(), headers={"X-Signature": "t=1,v1=00"}
        )
        assert response.status_code == 413
