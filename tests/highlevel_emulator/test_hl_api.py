"""The v2 API an app calls: contacts, invoices, orders, transactions (apps/contacts.json,
apps/invoices.json, apps/payments.json), with the Version header and location checks."""

from __future__ import annotations

from typing import Any

from tests.highlevel_emulator.conftest import Stand, bearer

LOC = {"altId": "LOC1", "altType": "location"}


async def _connected(stand: Stand) -> dict[str, str]:
    await stand.location()
    return bearer(await stand.connect())


async def test_upsert_creates_then_matches_by_email(stand: Stand) -> None:
    headers = await _connected(stand)
    body = {
        "locationId": "LOC1",
        "firstName": "Rosan",
        "lastName": "Deo",
        "email": "Rosan@Deos.com",
    }
    first = await stand.http.post("/contacts/upsert", json=body, headers=headers)
    assert first.status_code == 200
    assert first.json()["new"] is True
    contact = first.json()["contact"]
    assert contact["name"] == "Rosan Deo"
    again = {"locationId": "LOC1", "email": "rosan@deos.com", "phone": "+18888888888"}
    second = await stand.http.post("/contacts/upsert", json=again, headers=headers)
    assert second.json()["new"] is False
    assert second.json()["contact"]["id"] == contact["id"]
    assert second.json()["contact"]["phone"] == "+18888888888"
    fetched = await stand.http.get(f"/contacts/{contact['id']}", headers=headers)
    assert fetched.json()["contact"]["email"] == "rosan@deos.com"


async def test_search_and_duplicate_lookup(stand: Stand) -> None:
    headers = await _connected(stand)
    await stand.contact(firstName="Ann", email="ann@example.com")
    await stand.contact(firstName="Bob", email="bob@example.com")
    search = {
        "locationId": "LOC1",
        "filters": [{"field": "email", "operator": "eq", "value": "BOB@example.com"}],
    }
    found = await stand.http.post("/contacts/search", json=search, headers=headers)
    assert [c["firstName"] for c in found.json()["contacts"]] == ["Bob"]
    assert found.json()["total"] == 1
    dup = await stand.http.get(
        "/contacts/search/duplicate",
        params={"locationId": "LOC1", "email": "ann@example.com"},
        headers=headers,
    )
    assert dup.json()["contact"]["firstName"] == "Ann"


async def test_add_tags_merges_and_fires_tag_update(stand: Stand) -> None:
    headers = await _connected(stand)
    contact = await stand.contact(email="t@example.com", tags=["vip"])
    url = f"/contacts/{contact['id']}/tags"
    added = await stand.http.post(
        url, json={"tags": ["qbo-first-invoice-paid", "vip"]}, headers=headers
    )
    assert added.status_code == 201
    assert added.json()["tags"] == ["vip", "qbo-first-invoice-paid"]
    await stand.flush()
    [event] = stand.inbox.of_type("ContactTagUpdate")
    assert event["tags"] == ["vip", "qbo-first-invoice-paid"]


async def test_another_locations_data_is_forbidden(stand: Stand) -> None:
    headers = await _connected(stand)
    await stand.location("LOC2")
    body = {"locationId": "LOC2", "email": "x@example.com"}
    response = await stand.http.post("/contacts/upsert", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"


async def test_version_header_is_required(stand: Stand) -> None:
    headers = await _connected(stand)
    del headers["Version"]
    response = await stand.http.get(
        "/invoices/", params={**LOC, "limit": 10, "offset": 0}, headers=headers
    )
    assert response.status_code == 400


async def _invoices(stand: Stand) -> list[dict[str, Any]]:
    contact = await stand.contact()
    made = []
    for day, price in (("2026-01-05", 100), ("2026-02-05", 250.5)):
        body = {
            "contact_id": contact["id"],
            "issueDate": day,
            "items": [
                {
                    "name": "Work",
                    "qty": 2,
                    "amount": price,
                    "taxes": [{"_id": "t", "name": "GST", "rate": 10}],
                }
            ],
            "discount": {"type": "percentage", "value": 10},
        }
        made.append(await stand.control("POST", "/locations/LOC1/invoices", body, 201))
    return made


async def test_get_invoice_has_the_tax_the_webhook_lacks(stand: Stand) -> None:
    headers = await _connected(stand)
    first, _ = await _invoices(stand)
    response = await stand.http.get(f"/invoices/{first['_id']}", params=LOC, headers=headers)
    assert response.status_code == 200
    invoice = response.json()
    # 2 x 100 = 200, 10 % off = 20, GST 10 % of 180 = 18, total 198.
    assert invoice["totalSummary"] == {"subTotal": 200, "discount": 20, "tax": 18}
    assert invoice["total"] == 198
    assert invoice["amountDue"] == 198
    await stand.flush()
    [created, _] = stand.inbox.of_type("InvoiceCreate")
    assert "tax" not in created["totalSummary"]


async def test_list_invoices_filters_and_pages(stand: Stand) -> None:
    headers = await _connected(stand)
    first, second = await _invoices(stand)
    await stand.control("POST", f"/locations/LOC1/invoices/{second['_id']}/send")

    async def ids(**params: Any) -> list[str]:
        query = {**LOC, "limit": 10, "offset": 0, **params}
        response = await stand.http.get("/invoices/", params=query, headers=headers)
        assert response.status_code == 200, response.text
        return [i["_id"] for i in response.json()["invoices"]]

    assert await ids() == [second["_id"], first["_id"]]
    assert await ids(sortOrder="ascend") == [first["_id"], second["_id"]]
    assert await ids(status="sent") == [second["_id"]]
    assert await ids(startAt="2026-02-01", endAt="2026-02-28") == [second["_id"]]
    assert await ids(limit=1, offset=1) == [first["_id"]]
    assert await ids(paymentMode="test") == []
    missing = await stand.http.get("/invoices/", params=LOC, headers=headers)
    assert missing.status_code == 422


async def test_deleted_invoice_is_404(stand: Stand) -> None:
    headers = await _connected(stand)
    first, _ = await _invoices(stand)
    await stand.control("POST", f"/locations/LOC1/invoices/{first['_id']}/delete")
    response = await stand.http.get(f"/invoices/{first['_id']}", params=LOC, headers=headers)
    assert response.status_code == 404


async def test_orders_and_transactions(stand: Stand) -> None:
    headers = await _connected(stand)
    contact = await stand.contact()
    order_body = {
        "contact_id": contact["id"],
        "items": [{"name": "Tee", "qty": 2, "price": 17}],
        "source": {
            "type": "funnel",
            "subType": "one_step_order_form",
            "id": "F1",
            "name": "Funnel",
        },
    }
    made = await stand.control("POST", "/locations/LOC1/orders", order_body, 201)
    renewal = {"contact_id": contact["id"], "amount": 20, "subscription_id": "sub_9"}
    await stand.control("POST", "/locations/LOC1/renewals", renewal, 201)

    orders = await stand.http.get("/payments/orders", params={"altId": "LOC1"}, headers=headers)
    [listed] = orders.json()["data"]
    assert orders.json()["totalCount"] == 1
    assert (listed["sourceType"], listed["sourceSubType"], listed["amount"]) == (
        "funnel",
        "one_step_order_form",
        34,
    )
    one = await stand.http.get(
        f"/payments/orders/{made['order']['_id']}", params={"altId": "LOC1"}, headers=headers
    )
    assert one.json()["status"] == "completed"

    txns = await stand.http.get("/payments/transactions", params=LOC, headers=headers)
    assert txns.json()["totalCount"] == 2
    renewals = await stand.http.get(
        "/payments/transactions", params={**LOC, "subscriptionId": "sub_9"}, headers=headers
    )
    [txn] = renewals.json()["data"]
    assert txn["amount"] == 20
    by_id = await stand.http.get(
        f"/payments/transactions/{txn['_id']}", params=LOC, headers=headers
    )
    assert by_id.json()["subscriptionId"] == "sub_9"
    order_txns = await stand.http.get(
        "/payments/transactions", params={**LOC, "entityId": made["order"]["_id"]}, headers=headers
    )
    assert order_txns.json()["data"][0]["entitySourceSubType"] == "one_step_order_form"


async def test_api_writes_fire_webhooks_unless_turned_off(stand: Stand) -> None:
    headers = await _connected(stand)
    await stand.control("PATCH", "/config", {"api_writes_fire_webhooks": False})
    body = {"locationId": "LOC1", "email": "quiet@example.com"}
    await stand.http.post("/contacts/upsert", json=body, headers=headers)
    await stand.flush()
    assert stand.inbox.of_type("ContactCreate") == []
