from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, enum_column
from app.models.states import InboundState


class CrmEvent(Base):
    """An event the CRM posted, stored once per (location, event id)."""

    __tablename__ = "crm_events"
    __table_args__ = (
        sa.UniqueConstraint("location_id", "event_id"),
        sa.Index("ix_crm_events_object", "location_id", "object_kind", "object_id"),
        sa.Index("ix_crm_events_state_received", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    location_id: Mapped[str] = mapped_column(
        sa.String(200), sa.ForeignKey("connections.location_id")
    )
    event_id: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[str] = mapped_column(sa.String(64))
    occurred_at: Mapped[datetime]
    body_hash: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The CRM object the event is about; jobs of one object run one at a time, in order.
    object_kind: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(200))
    state: Mapped[InboundState] = mapped_column(
        enum_column(InboundState), default=InboundState.PENDING
    )
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    processed_at: Mapped[datetime | None]
