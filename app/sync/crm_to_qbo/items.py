"""Items: each CRM line name is a QBO Service item, found or created once, then cached in links."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm.attributes import set_committed_value

from app.db.locking import LockNamespace, advisory_xact_lock
from app.db.session import factory_beside, side_transaction
from app.errors import PermanentError
from app.integrations.quickbooks.entities import Account, Item, Ref, for_write
from app.integrations.quickbooks.errors import QboDuplicateNameError
from app.integrations.quickbooks.query import Select
from app.models.states import LinkOrigin
from app.repositories import connections, entity_links
from app.sync.crm_to_qbo.lookups import Intent, Lookup, adopt_earlier, create_once
from app.sync.flow import FlowContext

KIND = "item"
_NAME_LIMIT = 100
_FORBIDDEN = str.maketrans({":": "-", "\t": " ", "\n": " ", "\r": " "})


def item_name(line_name: str) -> str:
    """The QBO Item name for a CRM line name (QBO: ≤ 100 characters, no colon)."""
    return " ".join(line_name.translate(_FORBIDDEN).split())[:_NAME_LIMIT] or "Item"


async def ensure_items(ctx: FlowContext, line_names: Iterable[str]) -> dict[str, str]:
    """QBO item id for each CRM line name; in steady state this costs no QBO request."""
    names = sorted({item_name(name) for name in line_names})
    links = await entity_links.by_crm_ids(ctx.session, ctx.connection.id, KIND, names)
    ids = {name: link.qbo_id for name, link in links.items() if link.qbo_id}
    for name in names:
        if name not in ids:
            ids[name] = await _resolve(ctx, name)
    return {line: ids[item_name(line)] for line in line_names}


async def _resolve(ctx: FlowContext, name: str) -> str:
    await advisory_xact_lock(ctx.session, LockNamespace.ITEM, f"{ctx.connection.id}:{name}")
    link = await entity_links.by_crm_id(ctx.session, ctx.connection.id, KIND, name)
    if link is not None and link.qbo_id:
        return link.qbo_id
    # An item an earlier attempt created whose answer was lost is ours (origin CRM).
    item = await adopt_earlier(ctx, KIND, name, Item)
    origin = LinkOrigin.CRM
    if item is None:
        item, origin = await _find_or_create(ctx, name)
    assert item.Id is not None
    await entity_links.upsert(
        ctx.session,
        connection_id=ctx.connection.id,
        kind=KIND,
        crm_id=name,
        qbo_id=item.Id,
        origin=origin,
        sync_token=item.SyncToken,
    )
    return item.Id


async def _find_or_create(ctx: FlowContext, name: str) -> tuple[Item, LinkOrigin]:
    item = await _find(ctx, name)
    if item is not None:
        return item, LinkOrigin.QBO
    body = for_write(
        Item(Name=name, Type="Service", IncomeAccountRef=Ref(value=await _income_account(ctx)))
    )
    intent = Intent(KIND, name, ctx.request_id("item", name), Lookup(name=name))
    try:
        created, _ = await create_once(ctx, intent, body, looked=True)
    except QboDuplicateNameError:
        # Created meanwhile by a QBO user, or inactive with that name: use it.
        found = await _find(ctx, name, include_inactive=True)
        if found is None:
            raise
        return found, LinkOrigin.QBO
    return created, LinkOrigin.CRM


async def _find(ctx: FlowContext, name: str, *, include_inactive: bool = False) -> Item | None:
    select = Select("Item").where("Name", "=", name)
    if include_inactive:
        select = select.include_inactive()
    items = (await ctx.qbo.query(select, Item)).items
    return items[0] if items else None


async def _income_account(ctx: FlowContext) -> str:
    """The Income account for new items, chosen once per connection and recorded."""
    if ctx.connection.income_account_id:
        return ctx.connection.income_account_id
    accounts = (
        await ctx.qbo.query(
            Select("Account").where("AccountType", "=", "Income").order_by("Id"), Account
        )
    ).items
    preferred = [a for a in accounts if (a.Name or "").lower() in {"services", "sales", "income"}]
    candidates = preferred or accounts
    chosen = candidates[0] if candidates else None
    if chosen is None or chosen.Id is None:
        raise PermanentError(
            "QuickBooks has no Income account to post new items to; create one (Chart of "
            "Accounts → New → Income) and retry"
        )
    # Recorded in a transaction of its own: written in the job's, it would lock the connection
    # row until the job ends, and a token refresh during the job (which updates that row from
    # another transaction, while the job waits for it) would then wait forever.
    async with side_transaction(factory_beside(ctx.session)) as session:
        await connections.record_income_account(session, ctx.connection.id, chosen.Id)
    set_committed_value(ctx.connection, "income_account_id", chosen.Id)
    return chosen.Id
