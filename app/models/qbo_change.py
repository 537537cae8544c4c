from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, enum_column
from app.models.states import InboundState


class QboChange(Base):
    """One entity change announced by a QBO webhook (or found by CDC), stored once."""

    __tablename__ = "qbo_changes"
    __table_args__ = (
        sa.UniqueConstraint("realm_id", "dedupe_key"),
        sa.Index("ix_qbo_changes_entity", "realm_id", "entity", "entity_id"),
        sa.Index("ix_qbo_changes_state_received", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    realm_id: Mapped[str] = mapped_column(sa.String(64))
    entity: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    operation: Mapped[str] = mapped_column(sa.String(16))
    occurred_at: Mapped[datetime | None]
    deleted_id: Mapped[str | None] = mapped_column(sa.String(64))
    dedupe_key: Mapped[str] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[InboundState] = mapped_column(
        enum_column(InboundState), default=InboundState.PENDING
    )
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    processed_at: Mapped[datetime | None]
