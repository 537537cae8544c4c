"""Each control action fires HighLevel's documented webhook, signed the way HighLevel's SDK
verifies it (highlevel-api-sdk lib/webhook/webhook-manager.ts); drops and 429-only retries."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from highlevel_emulator.config import HighLevelEmulatorConfig
from tests.highlevel_emulator.conftest import Stand, load_sample

# Keys the stand-in adds to every body (docs/oauth/WebhookAuthentication.md).
ENVELOPE = {"timestamp", "webhookId"}
TAXED_ITEM = {"name": "Macbook Pro", "qty": 1, "amount": 999}


async def _invoice(stand: Stand, **extra: Any) -> dict[str, Any]:
    contact = await stand.contact()
    body = {"contact_id": contact["id"], "items": [TAXED_ITEM], **extra}
    result: dict[str, Any] = await stand.control("POST", "/locations/LOC1/invoices", body, 201)
    return result


def _assert_documented_keys(body: dict[str, Any], event: str, allowed_missing: set[str]) -> None:
    """The body has the documented example's keys (an optional one may be absent), no others
    but `type` (UNKNOWN for invoices, README) and the envelope."""
    documented = set(load_sample(event)) - {"type"}
    keys = set(body) - ENVELOPE - {"type"}
    assert keys <= documented, keys - documented
    assert documented - keys <= allowed_missing, documented - keys


async def test_invoice_lifecycle_fires_the_documented_events(stand: Stand) -> None:
    await stand.location()
    invoice = await _invoice(stand)
    path = f"/locations/LOC1/invoices/{invoice['_id']}"
    await stand.control("POST", path + "/send")
    await stand.control("PATCH", path, {"name": "Renamed"})
    await stand.control("POST", path + "/pay", {"amount": 100})
    await stand.control("POST", path + "/pay", {})
    await stand.flush()
    kinds = [b["type"] for b in stand.inbox.bodies()]
    assert kinds == [
        "ContactCreate",
        "InvoiceCreate",
        "InvoiceSent",
        "InvoiceUpdate",
        "InvoicePartiallyPaid",
        "InvoicePaid",
    ]
    for body in stand.inbox.bodies()[1:]:
        _assert_documented_keys(body, body["type"], allowed_missing=set())
    partial, paid = stand.inbox.bodies()[-2:]
    assert (partial["status"], partial["amountPaid"], partial["amountDue"]) == (
        "partially_paid",
        100,
        899,
    )
    assert (paid["status"], paid["amountPaid"], paid["amountDue"]) == ("paid", 999, 0)
    assert paid["altType"] == "location"
    assert paid["altId"] == "LOC1"
    assert paid["totalSummary"] == load_sample("InvoicePaid")["totalSummary"]


async def test_void_and_delete_fire_their_events(stand: Stand) -> None:
    await stand.location()
    first, second = await _invoice(stand), await _invoice(stand)
    await stand.control("POST", f"/locations/LOC1/invoices/{first['_id']}/void")
    await stand.control("POST", f"/locations/LOC1/invoices/{second['_id']}/delete")
    await stand.flush()
    void, delete = stand.inbox.of_type("InvoiceVoid"), stand.inbox.of_type("InvoiceDelete")
    assert [b["status"] for b in void + delete] == ["void", "delete"]
    listed = await stand.control("GET", "/locations/LOC1/invoices")
    assert [i["_id"] for i in listed["invoices"]] == [first["_id"]]


async def test_test_mode_location_sends_live_mode_false(stand: Stand) -> None:
    await stand.location(live_mode=False)
    await _invoice(stand)
    await stand.control("PATCH", "/locations/LOC1", {"live_mode": True})
    await _invoice(stand)
    await stand.flush()
    assert [b["liveMode"] for b in stand.inbox.of_type("InvoiceCreate")] == [False, True]


async def test_completed_order_fires_order_status_update(stand: Stand) -> None:
    await stand.location()
    contact = await stand.contact()
    body = {
        "contact_id": contact["id"],
        "items": [
            {"name": "Tee", "qty": 1, "price": 17},
            {
                "name": "Tshirt",
                "qty": 1,
                "price": 121,
                "taxes": [{"_id": "t", "name": "10%", "rate": 10}],
            },
        ],
        "source": {"type": "website", "subType": "store", "name": "Ecom Store"},
    }
    created = await stand.control("POST", "/locations/LOC1/orders", body, 201)
    assert created["transaction"]["entityType"] == "order"
    await stand.flush()
    [event] = stand.inbox.of_type("OrderStatusUpdate")
    _assert_documented_keys(event, "OrderStatusUpdate", allowed_missing=set())
    assert event["status"] == "completed"
    assert event["amount"] == 150.1  # 138 + 12.10 tax, like the documented example
    assert event["amountSummary"] == {"subtotal": 138, "discount": 0, "tax": 12.1, "shipping": 0}
    assert event["source"]["subType"] == "store"


async def test_contact_and_app_events_match_the_documented_examples(stand: Stand) -> None:
    await stand.location()
    await stand.control("POST", "/locations/LOC1/install", {"user_id": "U1"})
    contact = await stand.contact()
    await stand.control("PATCH", f"/locations/LOC1/contacts/{contact['id']}", {"city": "Austin"})
    await stand.control("POST", "/locations/LOC1/uninstall")
    await stand.flush()
    bodies = {b["type"]: b for b in stand.inbox.bodies()}
    optional_contact = {"assignedTo", "dateOfBirth", "address1", "state", "companyName"}
    optional_contact |= {"country", "phone", "postalCode", "website", "city", "source"}
    _assert_documented_keys(bodies["ContactCreate"], "ContactCreate", optional_contact)
    _assert_documented_keys(bodies["ContactUpdate"], "ContactUpdate", optional_contact - {"city"})
    # A free app: planId and trial are UNKNOWN (README) and left out.
    _assert_documented_keys(bodies["INSTALL"], "AppInstall", {"planId", "trial"})
    assert bodies["INSTALL"]["userId"] == "U1"
    _assert_documented_keys(bodies["UNINSTALL"], "AppUninstall", set())


async def test_signatures_verify_with_the_published_public_keys(stand: Stand) -> None:
    await stand.location()
    await _invoice(stand)
    await stand.flush()
    keys = await stand.control("GET", "/webhook-public-key")
    raw = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(keys["raw_base64"]))
    pem = serialization.load_pem_public_key(keys["pem"].encode())
    legacy = serialization.load_pem_public_key(keys["legacy_rsa_pem"].encode())
    assert isinstance(pem, ed25519.Ed25519PublicKey)
    assert isinstance(legacy, rsa.RSAPublicKey)
    assert stand.inbox.requests
    for request in stand.inbox.requests:
        signature = base64.b64decode(request.headers["x-ghl-signature"])
        raw.verify(signature, request.content)
        pem.verify(signature, request.content)
        legacy.verify(
            base64.b64decode(request.headers["x-wh-signature"]),
            request.content,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    tampered = stand.inbox.requests[0].content.replace(b"LOC1", b"LOC2")
    with pytest.raises(InvalidSignature):
        raw.verify(base64.b64decode(stand.inbox.requests[0].headers["x-ghl-signature"]), tampered)


async def test_legacy_signature_can_be_turned_off(stand: Stand) -> None:
    await stand.control("PATCH", "/config", {"legacy_signature": False})
    await stand.location()
    await stand.contact()
    await stand.flush()
    [request] = stand.inbox.requests
    assert "x-wh-signature" not in request.headers
    assert "x-ghl-signature" in request.headers


async def test_every_body_carries_a_webhook_id_and_timestamp(stand: Stand) -> None:
    await stand.location()
    await stand.contact()
    await stand.contact(email="b@example.com")
    await stand.flush()
    ids = [b["webhookId"] for b in stand.inbox.bodies()]
    assert len(set(ids)) == 2
    assert all(b["timestamp"].endswith("Z") for b in stand.inbox.bodies())


async def test_a_dropped_webhook_is_never_sent(stand: Stand) -> None:
    await stand.control("PATCH", "/config", {"webhook_drop_rate": 1.0})
    await stand.location()
    await stand.contact()
    stats = await stand.flush()
    assert stand.inbox.requests == []
    assert stats["dropped"] == 1
    [entry] = (await stand.control("GET", "/webhooks"))["deliveries"]
    assert entry["dropped"] is True
    assert entry["type"] == "ContactCreate"


async def test_only_429_is_retried(stand: Stand, config: HighLevelEmulatorConfig) -> None:
    await stand.location()
    stand.inbox.statuses = [429, 429, 500]
    await stand.contact()
    await stand.contact(email="second@example.com")
    stats = await stand.flush()
    # First event: 429, 429, 500 -> final after three attempts; second: 200 at once.
    assert [r.headers["x-ghl-signature"] for r in stand.inbox.requests[:3]] == [
        stand.inbox.requests[0].headers["x-ghl-signature"]
    ] * 3
    assert len(stand.inbox.requests) == 4
    assert stats["retried"] == 2
    assert stats["failed"] == 1
    assert stats["delivered"] == 1


async def test_429_retries_stop_after_six(stand: Stand) -> None:
    await stand.location()
    stand.inbox.statuses = [429] * 10
    await stand.contact()
    stats = await stand.flush()
    assert len(stand.inbox.requests) == 7  # the first attempt and six retries
    assert stats["failed"] == 1


async def test_renewals_and_refunds_fire_no_webhook(stand: Stand) -> None:
    await stand.location()
    contact = await stand.contact()
    await stand.flush()
    before = len(stand.inbox.requests)
    body = {"contact_id": contact["id"], "amount": 49.99, "subscription_id": "sub_1"}
    renewal = await stand.control("POST", "/locations/LOC1/renewals", body, 201)
    assert renewal["subscriptionId"] == "sub_1"
    assert renewal["status"] == "succeeded"
    refunded = await stand.control(
        "POST", f"/locations/LOC1/transactions/{renewal['_id']}/refund", {"amount": 10}
    )
    assert refunded["amountRefunded"] == 10
    assert refunded["status"] == "succeeded"
    whole = await stand.control("POST", f"/locations/LOC1/transactions/{renewal['_id']}/refund")
    assert whole["amountRefunded"] == 49.99
    assert whole["status"] == "refunded"
    await stand.flush()
    assert len(stand.inbox.requests) == before
