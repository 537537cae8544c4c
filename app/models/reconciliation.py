from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class ReconciliationRun(Base):
    """One reconciliation report (app/sync/reconcile): progress while it runs, then its lines."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (sa.Index("ix_reconciliation_runs_connection", "connection_id", "started_at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("connections.id", ondelete="CASCADE")
    )
    period_from: Mapped[date]
    period_to: Mapped[date]
    # running | done | failed
    state: Mapped[str] = mapped_column(sa.String(16))
    # Documents compared so far, of `total`: written after each QBO batch, so another reader
    # (the API's run endpoint, the card) sees the progress of a run still going.
    done: Mapped[int] = mapped_column(default=0, server_default="0")
    total: Mapped[int] = mapped_column(default=0, server_default="0")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    # {"by_verdict": {...}, "by_currency": {...}}; lines: one object per CRM document.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")


class ResyncRequest(Base):
    """A Re-sync asked for from the report. Counted into the document's write generation
    (app/sync/crm_to_qbo/handlers.py), so a re-create after a user deleted the QBO object gets
    a requestid of its own instead of QBO replaying the first create's answer."""

    __tablename__ = "reconciliation_resyncs"
    __table_args__ = (
        sa.Index("ix_reconciliation_resyncs_document", "connection_id", "kind", "crm_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("connections.id", ondelete="CASCADE")
    )
    # The sync-log subject kind (invoice, sales_receipt, refund) and the CRM id.
    kind: Mapped[str] = mapped_column(sa.String(32))
    crm_id: Mapped[str] = mapped_column(sa.String(200))
    verdict: Mapped[str] = mapped_column(sa.String(32))
    qbo_id: Mapped[str | None] = mapped_column(sa.String(64))
    crm_event_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    requested_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
