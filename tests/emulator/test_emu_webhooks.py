"""Outbound webhooks: batching per realm, formats, retries, drops, user edits via control API."""

from __future__ import annotations

import json

from .conftest import QBO, HookInbox


async def flush(qbo: QBO) -> dict[str, int]:
    result: dict[str, int] = (await qbo.http.post("/_emulator/webhooks/flush")).json()
    return result


class TestDelivery:
    async def test_changes_in_a_window_arrive_in_one_signed_legacy_post(
        self, qbo: QBO, inbox: HookInbox
    ) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Hooked"})
        await qbo.post(
            "/customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"}
        )
        await flush(qbo)
        assert len(inbox.requests) == 1
        request = inbox.requests[0]
        assert request.url == "http://hooks.test/qbo"
        assert request.headers["content-type"].startswith("application/json")
        assert request.headers["intuit-signature"]
        entities = json.loads(request.content)["eventNotifications"][0]["dataChangeEvent"][
            "entities"
        ]
        assert [(e["name"], e["id"], e["operation"]) for e in entities] == [
            ("Customer", customer["Id"], "Create"),
            ("Customer", customer["Id"], "Update"),
        ]

    async def test_batches_are_per_realm(self, qbo: QBO, uk: QBO, inbox: HookInbox) -> None:
        await qbo.create("Customer", {"DisplayName": "US"})
        await uk.create("Customer", {"DisplayName": "UK"})
        await flush(qbo)
        realms = sorted(b["eventNotifications"][0]["realmId"] for b in inbox.bodies())
        assert realms == sorted([qbo.realm, uk.realm])

    async def test_cloudevents_format(self, qbo: QBO, inbox: HookInbox) -> None:
        qbo.emu.config.webhook_format = "cloudevents"
        customer = await qbo.create("Customer", {"DisplayName": "Cloud"})
        await flush(qbo)
        (event,) = inbox.bodies()[0]
        assert event["type"] == "qbo.customer.created.v1"
        assert event["intuitaccountid"] == qbo.realm
        assert event["intuitentityid"] == customer["Id"]
        assert event["id"].endswith(f"-Customer-{customer['Id']}")
        assert inbox.requests[0].headers["content-type"].startswith("application/cloudevents+json")

    async def test_failures_are_retried_with_the_same_body(
        self, qbo: QBO, inbox: HookInbox
    ) -> None:
        inbox.statuses = [500, 503]
        await qbo.create("Customer", {"DisplayName": "Retry"})
        stats = await flush(qbo)
        assert len(inbox.requests) == 3
        assert stats["delivered"] == 1
        assert inbox.requests[0].content == inbox.requests[2].content
        log = (await qbo.http.get("/_emulator/webhooks")).json()["deliveries"]
        assert [d["attempt"] for d in log] == [1, 2, 3]

    async def test_gives_up_after_schedule(self, qbo: QBO, inbox: HookInbox) -> None:
        inbox.statuses = [500] * 10
        await qbo.create("Customer", {"DisplayName": "Never acked"})
        stats = await flush(qbo)
        assert stats["failed"] == 1
        assert len(inbox.requests) == 3

    async def test_drop_rate_loses_notifications(self, qbo: QBO, inbox: HookInbox) -> None:
        qbo.emu.config.webhook_drop_rate = 1.0
        await qbo.create("Customer", {"DisplayName": "Lost"})
        stats = await flush(qbo)
        assert inbox.requests == []
        assert stats["dropped"] == 1

    async def test_void_and_payment_events(self, qbo: QBO, inbox: HookInbox) -> None:
        await qbo.create("Customer", {"DisplayName": "Payer"})
        line = {"DetailType": "SalesItemLineDetail", "Amount": 10}
        inv = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [line]})
        link = {"Amount": 10, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}
        await qbo.create("Payment", {"TotalAmt": 10, "CustomerRef": {"value": "1"}, "Line": [link]})
        await flush(qbo)
        entities = [
            (e["name"], e["operation"])
            for body in inbox.bodies()
            for e in body["eventNotifications"][0]["dataChangeEvent"]["entities"]
        ]
        assert entities == [
            ("Customer", "Create"),
            ("Invoice", "Create"),
            ("Invoice", "Update"),
            ("Payment", "Create"),
        ]


class TestUserEdits:
    async def test_user_change_bumps_synctoken_and_notifies(
        self, qbo: QBO, inbox: HookInbox
    ) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Edited"})
        await flush(qbo)
        inbox.requests.clear()
        url = f"/_emulator/companies/{qbo.realm}/entities/Customer/{customer['Id']}"
        changed = (await qbo.http.patch(url, json={"Notes": "changed in QBO"})).json()["Customer"]
        assert changed["SyncToken"] == "1"
        assert changed["Notes"] == "changed in QBO"
        await flush(qbo)
        entity = inbox.bodies()[0]["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
        assert entity["operation"] == "Update"
        assert entity["id"] == customer["Id"]
        stale = await qbo.post(
            "/customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True}
        )
        assert stale.status_code == 400

    async def test_user_delete_inactivates_name_list_and_deletes_transactions(
        self, qbo: QBO
    ) -> None:
        customer = await qbo.create("Customer", {"DisplayName": "Bye"})
        base = f"/_emulator/companies/{qbo.realm}/entities"
        gone = (await qbo.http.delete(f"{base}/Customer/{customer['Id']}")).json()["Customer"]
        assert gone["Active"] is False
        receipt = await qbo.create(
            "SalesReceipt", {"Line": [{"DetailType": "SalesItemLineDetail", "Amount": 3}]}
        )
        deleted = (await qbo.http.delete(f"{base}/SalesReceipt/{receipt['Id']}")).json()
        assert deleted["SalesReceipt"]["status"] == "Deleted"

    async def test_user_void_through_operation(self, qbo: QBO) -> None:
        await qbo.create("Customer", {"DisplayName": "V"})
        inv = await qbo.create(
            "Invoice",
            {
                "CustomerRef": {"value": "1"},
                "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 3}],
            },
        )
        url = f"/_emulator/companies/{qbo.realm}/entities/Invoice/{inv['Id']}"
        voided = (await qbo.http.post(url, json={"_operation": "void"})).json()["Invoice"]
        assert voided["TotalAmt"] == 0


class TestCloudEventTypes:
    async def test_delete_and_void_types(self, qbo: QBO, inbox: HookInbox) -> None:
        qbo.emu.config.webhook_format = "cloudevents"
        await qbo.create("Customer", {"DisplayName": "T"})
        line = {"DetailType": "SalesItemLineDetail", "Amount": 3}
        first = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [line]})
        second = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [line]})
        await qbo.post("/invoice", {"Id": first["Id"], "SyncToken": "0"}, operation="void")
        await qbo.post("/invoice", {"Id": second["Id"], "SyncToken": "0"}, operation="delete")
        await flush(qbo)
        types = [event["type"] for body in inbox.bodies() for event in body]
        assert types[-2:] == ["qbo.invoice.voided.v1", "qbo.invoice.deleted.v1"]


class TestMerge:
    async def test_merge_moves_transactions_and_sends_deleted_id(
        self, qbo: QBO, inbox: HookInbox
    ) -> None:
        qbo.emu.config.webhook_format = "cloudevents"
        keep = await qbo.create("Customer", {"DisplayName": "Keep"})
        drop = await qbo.create("Customer", {"DisplayName": "Drop"})
        line = {"DetailType": "SalesItemLineDetail", "Amount": 7}
        inv = await qbo.create("Invoice", {"CustomerRef": {"value": drop["Id"]}, "Line": [line]})
        await flush(qbo)
        inbox.requests.clear()
        url = f"/_emulator/companies/{qbo.realm}/entities/Customer/{drop['Id']}/merge"
        merged = (await qbo.http.post(url, json={"into": keep["Id"]})).json()["Customer"]
        assert merged["Balance"] == 7
        assert (await qbo.read("Invoice", inv["Id"]))["CustomerRef"]["value"] == keep["Id"]
        assert (await qbo.get(f"/customer/{drop['Id']}")).status_code == 400
        await flush(qbo)
        (event,) = inbox.bodies()[0]
        assert event["type"] == "qbo.customer.merged.v1"
        assert event["data"] == {"deletedid": drop["Id"]}
        assert event["intuitentityid"] == keep["Id"]


class TestConnectedOnly:
    async def test_no_notifications_for_unconnected_or_disconnected_realms(
        self, qbo: QBO, inbox: HookInbox
    ) -> None:
        realm = (await qbo.http.post("/_emulator/companies", json={})).json()["realm_id"]
        url = f"/_emulator/companies/{realm}/entities/Customer"
        assert (await qbo.http.post(url, json={"DisplayName": "Nobody listens"})).status_code == 201
        await qbo.http.post(f"/_emulator/companies/{qbo.realm}/tokens/revoke")
        await qbo.http.post(
            f"/_emulator/companies/{qbo.realm}/entities/Customer", json={"DisplayName": "X"}
        )
        await flush(qbo)
        assert inbox.requests == []
