from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, enum_column
from app.models.states import InboundState

# Column widths, also the longest value a webhook entry may carry (longer entries are refused
# alone at parsing: app/integrations/quickbooks/webhooks.py).
REALM_ID_LENGTH = 64
ENTITY_LENGTH = 64
ENTITY_ID_LENGTH = 64
DEDUPE_KEY_LENGTH = 255


class QboChange(Base):
    """One entity change announced by a QBO webhook (or found by CDC), stored once."""

    __tablename__ = "qbo_changes"
    __table_args__ = (
        sa.UniqueConstraint("realm_id", "dedupe_key"),
        sa.Index("ix_qbo_changes_entity", "realm_id", "entity", "entity_id"),
        sa.Index("ix_qbo_changes_state_received", "state", "received_at"),
        # A batch job reads the next pending changes of one realm's entity, oldest first.
        sa.Index("ix_qbo_changes_batch", "realm_id", "entity", "state", "id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    realm_id: Mapped[str] = mapped_column(sa.String(REALM_ID_LENGTH))
    entity: Mapped[str] = mapped_column(sa.String(ENTITY_LENGTH))
    entity_id: Mapped[str] = mapped_column(sa.String(ENTITY_ID_LENGTH))
    operation: Mapped[str] = mapped_column(sa.String(16))
    occurred_at: Mapped[datetime | None]
    deleted_id: Mapped[str | None] = mapped_column(sa.String(ENTITY_ID_LENGTH))
    dedupe_key: Mapped[str] = mapped_column(sa.String(DEDUPE_KEY_LENGTH))
    source: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[InboundState] = mapped_column(
        enum_column(InboundState), default=InboundState.PENDING
    )
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    processed_at: Mapped[datetime | None]
