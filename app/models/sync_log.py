from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin, enum_column
from app.models.states import Direction, SyncState


class SyncLogEntry(TimestampMixin, Base):
    """What happened to one object in one direction, in words a person can act on."""

    __tablename__ = "sync_log"
    __table_args__ = (
        sa.Index("ix_sync_log_connection_state", "connection_id", "state", "created_at"),
        sa.Index("ix_sync_log_object", "connection_id", "kind", "crm_id"),
        # Retention (app/sync/retention.py) finds old entries by age and an event's entries by id.
        sa.Index("ix_sync_log_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("connections.id"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    kind: Mapped[str] = mapped_column(sa.String(32))
    crm_id: Mapped[str | None] = mapped_column(sa.String(200))
    qbo_id: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[SyncState] = mapped_column(enum_column(SyncState), default=SyncState.PENDING)
    message: Mapped[str | None] = mapped_column(sa.Text)
    action: Mapped[str | None] = mapped_column(sa.Text)
    qbo_error_code: Mapped[str | None] = mapped_column(sa.String(16))
    qbo_error_element: Mapped[str | None] = mapped_column(sa.String(200))
    intuit_tid: Mapped[str | None] = mapped_column(sa.String(128))
    # The entry outlives its event (sync log kept longer): a purged event leaves NULL here.
    crm_event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("crm_events.id", ondelete="SET NULL"), index=True
    )
    qbo_change_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("qbo_changes.id", ondelete="SET NULL"), index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    qbo_requests: Mapped[int] = mapped_column(default=0)
    # QBO ids touched and other facts a person reading the entry needs.
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
