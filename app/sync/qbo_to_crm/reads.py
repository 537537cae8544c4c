"""Read many QBO objects of one kind with one query per 500 ids (`Id IN (...)`)."""

from __future__ import annotations

from collections.abc import Sequence

from app.integrations.quickbooks.query import E, Select
from app.sync.flow import FlowContext

ID_CHUNK = 500


async def read_many(
    ctx: FlowContext, entity: type[E], ids: Sequence[str], *, include_inactive: bool = False
) -> dict[str, E]:
    """The objects by id; ids QBO does not return (deleted, merged away) are absent."""
    found: dict[str, E] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), ID_CHUNK):
        select = Select(entity).where("Id", "IN", unique[start : start + ID_CHUNK])
        if include_inactive:
            select = select.include_inactive()
        page = await ctx.qbo.query(select.page(1, ID_CHUNK), entity)
        found.update({item.Id: item for item in page.items if item.Id is not None})
    return found
