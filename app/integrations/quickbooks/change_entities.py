"""What each QuickBooks entity's changes mean to this service: one row per entity we hear about.

Every reader of a change's entity reads this table, so they cannot disagree:

- the webhook intake stores every change of a name Intuit may send (webhooks.QBO_ENTITIES, which
  must hold every name here) and queues one batch job per realm and entity;
- the change job (app/sync/dispatch.py) ends a change of an entity without a flow as `skipped`
  with the reason below, and hands the others to their flow in app/sync/qbo_to_crm/changes.py
  (`FLOWS`: one per synced entity, checked at its import);
- the CDC poll (app/sync/qbo_to_crm/cdc.py) asks QuickBooks for the synced entities, reading them
  with `model`;
- echo suppression: a version whose SyncToken the entity link of `link_kind` already holds is our
  own write (or already seen); the flows write their links under the same kind.

Entities without a flow are listed (with why) because operators subscribe the webhook to them
(README: Customer, Invoice, Payment and SalesReceipt), and a change of a name not listed here is
skipped the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.integrations.quickbooks.entities import Customer, QboEntity
from app.integrations.quickbooks.transactions import Invoice, Payment
from app.integrations.quickbooks.webhooks import QBO_ENTITIES


@dataclass(frozen=True, slots=True)
class ChangeEntity:
    name: str
    # The typed entity its changes are read as; None: the service has no flow for it.
    model: type[QboEntity] | None
    # Entity-link kind of its synced objects (echo suppression); None: it has no links.
    link_kind: str | None = None
    # Read inactive objects too (a deactivated customer reaches the CRM as `active: false`).
    read_inactive: bool = False
    # Why its changes are skipped, when it has no flow.
    skipped: str | None = None

    @property
    def synced(self) -> bool:
        return self.model is not None


CHANGE_ENTITIES: Mapping[str, ChangeEntity] = {
    entity.name: entity
    for entity in (
        ChangeEntity("Customer", Customer, link_kind="customer", read_inactive=True),
        ChangeEntity("Invoice", Invoice, link_kind="invoice"),
        # A payment applied to an imported invoice updates that invoice in the CRM. The
        # Payments we make from CRM invoices are linked (app/sync/crm_to_qbo/invoice_payments.py).
        ChangeEntity("Payment", Payment, link_kind="payment"),
        ChangeEntity(
            "Item",
            None,
            skipped="items are made from CRM line items and are not synced back to the CRM",
        ),
        ChangeEntity(
            "SalesReceipt",
            None,
            skipped="sales receipts are made from CRM payments, which stay the record of them",
        ),
        # A refund or credit made in QuickBooks is not sent to the CRM: the CRM's own refunds
        # are the record of money given back (docs/design.md, "QuickBooks → CRM").
        ChangeEntity(
            "RefundReceipt",
            None,
            skipped="refund receipts are made from CRM refunds, which stay the record of them",
        ),
        ChangeEntity(
            "CreditMemo",
            None,
            skipped="credit memos are made from CRM refunds of invoice payments, which stay the "
            "record of them",
        ),
    )
}

SYNCED_ENTITIES: tuple[str, ...] = tuple(
    name for name, entity in CHANGE_ENTITIES.items() if entity.synced
)


def link_kind(name: str) -> str:
    """The entity-link kind of a synced entity that has links (KeyError/ValueError otherwise)."""
    kind = CHANGE_ENTITIES[name].link_kind
    if kind is None:
        raise ValueError(f"{name} objects have no entity links")
    return kind


def skip_reason(name: str) -> str | None:
    """Why a change of `name` is skipped, or None when it has a flow."""
    entity = CHANGE_ENTITIES.get(name)
    if entity is not None and entity.synced:
        return None
    handled = ", ".join(SYNCED_ENTITIES)
    why = f"{entity.skipped}; " if entity is not None and entity.skipped else ""
    return f"skipped: this service syncs no {name} changes ({why}it handles: {handled})"


def table_problems() -> list[str]:
    """Where the table contradicts itself or the webhook parser (empty when it does not)."""
    problems: list[str] = []
    for name, entity in CHANGE_ENTITIES.items():
        if QBO_ENTITIES.get(name.lower()) != name:
            problems.append(f"{name}: not a name the webhook parser knows")
        if entity.synced == bool(entity.skipped):
            problems.append(f"{name}: needs a model (synced) or a skip reason, not both")
        if not entity.synced and (entity.link_kind or entity.read_inactive):
            problems.append(f"{name}: skipped entities have no links and are not read")
    return problems


_PROBLEMS = table_problems()
if _PROBLEMS:  # pragma: no cover - a wrong table stops the service at import
    raise RuntimeError(f"QBO change entity table is inconsistent: {'; '.join(_PROBLEMS)}")
