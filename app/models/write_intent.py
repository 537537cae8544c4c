from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class WriteIntent(Base):
    """A QBO create that was sent and whose answer has not been recorded yet (docs/design.md,
    "Exactly once"). Committed before the create, in a transaction of its own; deleted in the
    job's transaction together with the link the answer produces. A row still here on a later
    attempt means the create may have run, so that attempt looks for the object first."""

    __tablename__ = "write_intents"
    __table_args__ = (sa.UniqueConstraint("connection_id", "kind", "crm_key"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("connections.id", ondelete="CASCADE")
    )
    # What is created ("invoice", "sales_receipt", "invoice_payment", "item") and for which CRM
    # fact (the CRM id, the invoice id and cumulative amount paid, the item name).
    kind: Mapped[str] = mapped_column(sa.String(32))
    crm_key: Mapped[str] = mapped_column(sa.String(300))
    request_id: Mapped[str] = mapped_column(sa.String(64))
    # The filterable fields and marker the create was sent with (app/sync/crm_to_qbo/lookups.py).
    lookup: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Until then the create may still be running in QBO (a timeout, a killed worker): looking
    # before it could miss an object that is committed a moment later.
    settles_at: Mapped[datetime]
    # The Id QBO answered with: recorded at once, in a transaction of its own, so a job that
    # fails after the create (and rolls back its link) finds the object by Id on its retry.
    qbo_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
