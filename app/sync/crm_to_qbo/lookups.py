"""The second guard on every QBO create: a write intent, and a lookup on the retry that follows
an uncertain outcome (docs/design.md, "Exactly once").

The first guard is the deterministic requestid, which QBO is documented to replay; it is not
reliable (qbo-api.md Corrections 7), and the duplicate-DocNumber check depends on a company
preference (Corrections 6). So before each create an intent (kind, CRM key, requestid and the
fields to find the object by) is committed in a transaction of its own, and it is deleted in the
job's transaction together with the link the answer produces. An intent found on a later
attempt means the create may have run: that attempt looks the object up, and adopts it if it is
there. In the steady state the intent is written, given the answer and deleted (three short
database statements), and QBO sees the one create.

The lookup filters on fields QBO can filter on (CustomerRef and TxnDate for transactions, Name
for items) and recognises our object client-side by the marker in PrivateNote, which QBO cannot
filter on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from app.db.session import factory_beside, side_transaction
from app.errors import PermanentError
from app.integrations.quickbooks.entities import Item, QboEntity
from app.integrations.quickbooks.errors import QboNotFoundError, QboTransientError
from app.integrations.quickbooks.query import Select
from app.logging import get_logger
from app.repositories import write_intents
from app.sync.flow import FlowContext

log = get_logger(__name__)

E = TypeVar("E", bound=QboEntity)

# QBO renames an inactive name-list object (qbo-api.md Corrections 5).
DELETED_SUFFIX = " (deleted)"


@dataclass(frozen=True)
class Lookup:
    """How to find a create's object again. Stored with the intent: the retry looks for what
    the earlier attempt sent, even if the CRM object changed since."""

    customer_id: str | None = None
    txn_date: str | None = None
    marker: str | None = None
    # Checked only where we set the total ourselves (a Payment): a receipt's total is QBO's.
    amount: str | None = None
    name: str | None = None

    def stored(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Lookup:
        fields = {key: stored.get(key) for key in cls.__dataclass_fields__}
        return cls(**{key: str(v) for key, v in fields.items() if v is not None})


@dataclass(frozen=True)
class Intent:
    """One create: what it makes, for which CRM fact, with which requestid."""

    kind: str
    crm_key: str
    request_id: str
    lookup: Lookup


async def create_once(
    ctx: FlowContext, intent: Intent, body: E, *, looked: bool = False
) -> tuple[E, bool]:
    """The object `body` creates, created at most once across attempts; True when an earlier
    attempt's object was found and adopted instead. `looked`: the caller already called
    `adopt_earlier` for this intent."""
    if not looked:
        found = await adopt_earlier(ctx, intent.kind, intent.crm_key, type(body))
        if found is not None:
            return found, True
    await _record(ctx, intent)
    client = ctx.qbo_create or ctx.qbo
    try:
        created = await client.create(body, request_id=intent.request_id)
    except PermanentError:
        # QBO refused it: nothing was written, and nothing is to be looked for next time.
        await _in_side(ctx, intent, forget=True)
        raise
    except QboTransientError as exc:
        if exc.status is not None:
            # QBO answered (a 5xx, a 429): its handling of the create is over, whatever it
            # did; the retry may look at once. Unanswered (a timeout, a dropped connection),
            # it may still be running, and the retry waits for the settle time first.
            await _in_side(ctx, intent, forget=False)
        raise
    # The answer, kept whatever this job does next: a failure later in the job rolls back the
    # link, and the retry then reads the object by this Id instead of creating another.
    await _in_side(ctx, intent, forget=False, qbo_id=created.Id)
    await write_intents.clear(ctx.session, ctx.connection.id, intent.kind, intent.crm_key)
    return created, False


async def adopt_earlier(ctx: FlowContext, kind: str, crm_key: str, entity: type[E]) -> E | None:
    """The object an earlier, unanswered attempt created, if there was one and it did. Costs
    nothing (no QBO request) unless an intent was left by such an attempt."""
    row = await write_intents.get(ctx.session, ctx.connection.id, kind, crm_key)
    if row is None:
        return None
    wait = await write_intents.seconds_to_settle(ctx.session, row)
    if wait > 0:
        raise QboTransientError(
            f"an earlier attempt to create this {kind} in QuickBooks may still be "
            f"running; looking for it in {wait:.0f} s",
            retry_after_s=wait,
        )
    if row.qbo_id is not None:
        found = await _read(ctx, entity, row.qbo_id)
    else:
        found = await find(ctx, entity, Lookup.from_stored(row.lookup))
    log.info(
        "qbo.create.looked_up",
        kind=kind,
        crm_key=crm_key,
        settles_at=row.settles_at.isoformat(),
        answered=row.qbo_id,
        found=found.Id if found is not None else None,
    )
    if found is not None:
        ctx.notes.append(
            f"adopted QuickBooks {entity.entity_name} {found.Id}, created by an earlier attempt "
            "whose answer was lost"
        )
        await write_intents.clear(ctx.session, ctx.connection.id, kind, crm_key)
    return found


async def _read(ctx: FlowContext, entity: type[E], qbo_id: str) -> E | None:
    try:
        return await ctx.qbo.read(entity, qbo_id)
    except QboNotFoundError:
        return None  # deleted in QBO since: made again, as a first sync would


async def find(ctx: FlowContext, entity: type[E], lookup: Lookup) -> E | None:
    """Our object, found with filterable fields only and recognised by its marker."""
    if lookup.name is not None:
        return await _find_item(ctx, entity, lookup.name)
    assert lookup.customer_id is not None
    assert lookup.txn_date is not None
    select = (
        Select(entity)
        .where("CustomerRef", "=", lookup.customer_id)
        .where("TxnDate", "=", date.fromisoformat(lookup.txn_date))
    )
    matches: list[E] = []
    async for page in ctx.qbo.query_all(select, entity):
        matches.extend(row for row in page if _is_ours(row, lookup))
    if not matches:
        return None
    # Deterministic if there ever were two: the oldest.
    matches.sort(key=lambda row: int(row.Id or 0))
    return matches[0]


def _is_ours(row: QboEntity, lookup: Lookup) -> bool:
    note = getattr(row, "PrivateNote", None) or ""
    if lookup.marker is None or lookup.marker not in note:
        return False
    if lookup.amount is None:
        return True
    total = getattr(row, "TotalAmt", None)
    return total is not None and Decimal(str(total)) == Decimal(lookup.amount)


async def _find_item(ctx: FlowContext, entity: type[E], name: str) -> E | None:
    """An item by name, active or not (an inactive one reads back as "<name> (deleted)")."""
    assert entity is Item
    select = Select(entity).where("Name", "IN", (name, name + DELETED_SUFFIX)).include_inactive()
    items = (await ctx.qbo.query(select, entity)).items
    # The active one first, as the item flow resolves names.
    items.sort(key=lambda item: (getattr(item, "Active", True) is False, int(item.Id or 0)))
    return items[0] if items else None


async def _record(ctx: FlowContext, intent: Intent) -> None:
    # Committed before the create, in a transaction of its own: it must survive the job's
    # rollback or the worker's death, which is exactly when the answer is lost.
    async with side_transaction(factory_beside(ctx.session)) as session:
        await write_intents.record(
            session,
            connection_id=ctx.connection.id,
            kind=intent.kind,
            crm_key=intent.crm_key,
            request_id=intent.request_id,
            lookup=intent.lookup.stored(),
            settle_s=ctx.write_settle_s,
        )


async def _in_side(
    ctx: FlowContext, intent: Intent, *, forget: bool, qbo_id: str | None = None
) -> None:
    async with side_transaction(factory_beside(ctx.session)) as session:
        if forget:
            await write_intents.clear(session, ctx.connection.id, intent.kind, intent.crm_key)
        else:
            await write_intents.settle_now(
                session, ctx.connection.id, intent.kind, intent.crm_key, qbo_id
            )
