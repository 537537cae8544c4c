"""What a run created in a company, and taking it away again (void or make inactive).

Every object a check creates carries the run's prefix (`qbs-verify-<run id>`): names start with
it, transactions carry it in PrivateNote. Cleanup reads each object back first and touches it only
when it still carries the prefix, so a mix-up of ids can never void or deactivate a user's object.
QBO deletes no name-list object (customers and items only go inactive), and a voided invoice
stays as a zero-amount record: both remain visible, recognisable by the prefix. Payments, credit
memos, expenses (Purchase) and refund receipts are deleted (`?operation=delete`, which Intuit's
API reference documents for each of the four; a void would leave a zero-amount record): the
payment first, since QBO refuses to delete or void a transaction a payment still links, then the
others, then the names (a customer with an open balance cannot go inactive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.integrations.quickbooks.contract.raw import Answer, RawQbo

NAME_FIELD = {"Customer": "DisplayName", "Vendor": "DisplayName", "Item": "Name"}
VOIDABLE = frozenset({"Invoice"})
# Deleted in this order, before anything else: a payment links the credit memo and the expense.
DELETABLE = ("Payment", "RefundReceipt", "CreditMemo", "Purchase")
DELETED_SUFFIX = " (deleted)"


def run_prefix(run_id: str) -> str:
    return f"qbs-verify-{run_id}"


def carries_prefix(entity: str, data: dict[str, Any], prefix: str) -> bool:
    """Whether an object read back is one this run made (its name or PrivateNote)."""
    if entity in NAME_FIELD:
        return str(data.get(NAME_FIELD[entity]) or "").startswith(prefix)
    return str(data.get("PrivateNote") or "").startswith(prefix)


@dataclass(frozen=True)
class Created:
    entity: str
    entity_id: str


@dataclass
class Tracker:
    """The objects one check created in one company, in creation order."""

    prefix: str
    created: list[Created] = field(default_factory=list)

    def note(self, entity: str, answer: Answer) -> None:
        """Record the object a create answered with (any 2xx; a replayed answer is kept once)."""
        entity_id = answer.entity(entity).get("Id") if answer.ok else None
        if entity_id is None:
            return
        item = Created(entity, str(entity_id))
        if item not in self.created:
            self.created.append(item)


async def clean_up(qbo: RawQbo, tracker: Tracker) -> list[dict[str, Any]]:
    """Void the transactions, then deactivate the names (a customer with an open invoice cannot
    go inactive); one entry per object saying what was done. Never raises: the report says."""
    ordered = sorted(tracker.created, key=_cleanup_order)
    results = []
    for item in ordered:
        try:
            action = await _retire(qbo, item, tracker.prefix)
        except Exception as exc:
            action = f"error: {type(exc).__name__}: {exc}"
        results.append({"entity": item.entity, "id": item.entity_id, "action": action})
    return results


def _cleanup_order(item: Created) -> int:
    if item.entity in DELETABLE:
        return DELETABLE.index(item.entity)
    return len(DELETABLE) + (0 if item.entity in VOIDABLE else 1)


async def _retire(qbo: RawQbo, item: Created, prefix: str) -> str:
    answer = await qbo.read(item.entity, item.entity_id)
    data = answer.entity(item.entity)
    if not answer.ok or not data:
        return f"not read back ({answer.summary()})"
    if not carries_prefix(item.entity, data, prefix):
        return f"left alone: does not carry {prefix!r}"
    if item.entity in VOIDABLE:
        return await _void(qbo, item.entity, data)
    if item.entity in DELETABLE:
        body = {"Id": data["Id"], "SyncToken": data["SyncToken"]}
        done = await qbo.send(
            "POST", item.entity.lower(), body=body, params={"operation": "delete"}
        )
        return "deleted" if done.ok else f"delete refused ({done.summary()})"
    if data.get("Active") is False:
        return "already inactive"
    body = {"Id": data["Id"], "SyncToken": data["SyncToken"], "sparse": True, "Active": False}
    done = await qbo.send("POST", item.entity.lower(), body=body)
    return "made inactive" if done.ok else f"deactivate refused ({done.summary()})"


async def _void(qbo: RawQbo, entity: str, data: dict[str, Any]) -> str:
    if _is_void(data):
        return "already void"
    body = {"Id": data["Id"], "SyncToken": data["SyncToken"]}
    done = await qbo.send("POST", entity.lower(), body=body, params={"operation": "void"})
    return "voided" if done.ok else f"void refused ({done.summary()})"


def _is_void(data: dict[str, Any]) -> bool:
    # QBO keeps a voided invoice with zero amounts (and writes "Voided" into its PrivateNote,
    # so a voided one no longer carries the prefix and is left alone before this).
    return str(data.get("TotalAmt")) in {"0", "0.0", "0.00"} and str(data.get("Balance")) in {
        "0",
        "0.0",
        "0.00",
    }
