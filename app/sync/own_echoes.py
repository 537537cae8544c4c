"""Q4 without a read: the webhook of our own write is recognised from what we stored at write time.

Every object this service writes announces itself through QBO's webhook a moment later. Reading
it back to find out it is ours cost one QBO request per object written, doubling the requests of
every invoice. So a write stores, on its entity link, the MetaData.LastUpdatedTime QBO answered
it with (`echo_updated_at`), and a webhook of that object is our echo, settled without a read,
when:

- its operation is the one our write causes (Create for a create, whose SyncToken is "0";
  Update otherwise): a user's later Update of an object we created is never taken for our echo;
- its time (legacy `lastUpdated`, CloudEvents `time`) names the same second as the stored time.
  QBO's LastUpdatedTime has whole seconds (every captured response in tests/conformance), so
  that is the precision compared; a user's edit a second or more after our write is read;
- it is the first such webhook: the stored time is cleared once its echo came, and whenever the
  object is read, so a second webhook naming the same second (a user's edit within the second
  of our write) is read, and reading gives the object as it is now, edit included.

A Payment we make from a CRM invoice is linked (kind `payment`) with its own stamp, and applying
it updates the invoice in QBO in the same request: the invoice link then holds the Payment's
time and no SyncToken (the Update is expected, not a Create), so both webhooks are settled
without a read, unless the Payment pays the invoice in full (the review rule reads those).

A CDC-found change is never an echo: the poll only stores versions whose SyncToken the link does
not hold, and our write's version is held. Entities without a link kind are read.
The write side: `write_stamp` (what to store) in the CRM -> QBO flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.integrations.quickbooks.change_entities import CHANGE_ENTITIES
from app.integrations.quickbooks.entities import QboEntity
from app.models import EntityLink, QboChange
from app.repositories import qbo_links
from app.sync.flow import FlowContext

ECHO_RESULT = "echo of our own write (the webhook names our write's time): not read back"
_CDC_SOURCE = "cdc"
# The SyncToken QBO gives a new object (qbo-api.md §0.6): our write was a create.
_CREATED = "0"


def write_stamp(written: QboEntity) -> datetime | None:
    """The time QBO answered a write with, to be stored on the link as `echo_updated_at`."""
    meta = written.MetaData
    return meta.LastUpdatedTime if meta is not None else None


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def is_echo(change: QboChange, link: EntityLink) -> bool:
    """The change is the webhook of the write stored on `link` (see the module docstring)."""
    stamp = link.echo_updated_at
    if stamp is None or change.occurred_at is None or change.source == _CDC_SOURCE:
        return False
    expected = "Create" if link.sync_token == _CREATED else "Update"
    if change.operation != expected:
        return False
    return _whole_second(change.occurred_at) == _whole_second(stamp)


async def take_echoes(ctx: FlowContext, changes: Sequence[QboChange]) -> dict[int, str]:
    """The changes (oldest first) that are echoes of our writes, with their result; each link's
    echo is taken once."""
    kind = CHANGE_ENTITIES[changes[0].entity].link_kind if changes else None
    if kind is None:
        return {}
    ids = list(dict.fromkeys(change.entity_id for change in changes))
    links = await qbo_links.expected_echoes(ctx.session, ctx.connection.id, kind, ids)
    echoes: dict[int, str] = {}
    taken: list[int] = []
    for change in changes:
        link = links.get(change.entity_id)
        if link is not None and link.id not in taken and is_echo(change, link):
            echoes[change.id] = ECHO_RESULT
            taken.append(link.id)
    await qbo_links.echo_received(ctx.session, taken)
    return echoes
