"""The verdict of one document (pure): matched, mismatch, missing_in_qbo, changed_in_qbo, skipped.

- No QBO object linked: `skipped` when the sync log's newest outcome is a deliberate skip (its
  reason shown), else `missing_in_qbo` (the failure's message, or "not synced yet").
- Linked, but QBO no longer returns it (a query leaves deleted transactions out): a user
  deleted it, `changed_in_qbo`.
- Linked and read: QBO's SyncToken differs from the one our last write was answered with, so a
  user (or another app) edited it since, `changed_in_qbo`, with the fields that differ. Our own
  voids are left out of this test: a void changes the object after the write the link recorded.
- Otherwise each compared field (total; an invoice's amount paid and balance) that differs is a
  `mismatch`, both values shown; none differs: `matched`.
"""

from __future__ import annotations

from decimal import Decimal

from app.models import EntityLink, SyncLogEntry
from app.models.states import LinkOrigin, SyncState
from app.sync.reconcile.model import Difference, Document, Line, QboDocument, money_text


def _fields(doc: Document, qbo: QboDocument) -> tuple[Difference, ...]:
    pairs: list[tuple[str, Decimal | None, Decimal | None]] = [("total", doc.total, qbo.total)]
    if doc.kind == "invoice":
        pairs.append(("amount_paid", doc.amount_paid, qbo.amount_paid))
        pairs.append(("balance", doc.balance, qbo.balance))
    return tuple(
        Difference(name, money_text(crm), money_text(found))
        for name, crm, found in pairs
        if crm is not None and crm != found
    )


def _unlinked(doc: Document, link: EntityLink | None, entry: SyncLogEntry | None) -> Line:
    if link is not None and link.link_state.voided:
        return Line(doc, "skipped", reason="voided in the CRM before it ever reached QuickBooks")
    if entry is not None and entry.state is SyncState.SKIPPED:
        return Line(doc, "skipped", reason=entry.message)
    if entry is not None and entry.state is SyncState.FAILED:
        return Line(doc, "missing_in_qbo", reason=entry.message)
    return Line(doc, "missing_in_qbo", reason="not synced yet: no outcome recorded")


def judge(
    doc: Document,
    link: EntityLink | None,
    entity: str | None,
    qbo: QboDocument | None,
    entry: SyncLogEntry | None,
) -> Line:
    """The line of one document: its link (None: never written), the QBO entity the link
    names, what QBO returned for it (None: not returned) and its newest sync-log entry."""
    if link is None or link.qbo_id is None:
        return _unlinked(doc, link, entry)
    if link.origin is LinkOrigin.QBO:
        reason = "imported from QuickBooks: QuickBooks is its source, not the CRM"
        return Line(doc, "skipped", entity, link.qbo_id, qbo, reason=reason)
    if qbo is None:
        gone = Difference("deleted", "exists", "deleted")
        return Line(
            doc,
            "changed_in_qbo",
            entity,
            link.qbo_id,
            None,
            (gone,),
            reason=f"{entity} {link.qbo_id} was deleted in QuickBooks after it was synced",
        )
    differences = _fields(doc, qbo)
    ours_after = bool(link.link_state.voided) or doc.voided
    if not ours_after and qbo.sync_token != link.sync_token:
        token = Difference("sync_token", link.sync_token, qbo.sync_token)
        what = "; the amounts still agree" if not differences else ""
        return Line(
            doc,
            "changed_in_qbo",
            entity,
            link.qbo_id,
            qbo,
            (*differences, token),
            reason=f"edited in QuickBooks after it was synced{what}",
        )
    if differences:
        return Line(doc, "mismatch", entity, link.qbo_id, qbo, differences)
    return Line(doc, "matched", entity, link.qbo_id, qbo)
