from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, enum_column
from app.models.states import CallbackState


class CrmCallback(Base):
    """A callback owed to the CRM (outbox): delivered with retries, deduplicated by `id` there."""

    __tablename__ = "crm_callbacks"
    __table_args__ = (
        sa.Index("ix_crm_callbacks_state_created", "state", "created_at"),
        sa.Index("ix_crm_callbacks_due", "state", "next_attempt_at"),
        sa.Index("ix_crm_callbacks_location_state", "location_id", "state", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    location_id: Mapped[str] = mapped_column(sa.String(200), index=True)
    type: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[CallbackState] = mapped_column(
        enum_column(CallbackState), default=CallbackState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    delivered_at: Mapped[datetime | None]
    # Set while a deliverer holds the callback's lease (next_attempt_at is then the lease's end):
    # only the holder of this token records the outcome.
    claim_token: Mapped[uuid.UUID | None]
    failed_at: Mapped[datetime | None]
    # The give-up window restarts at a resend (else at created_at).
    resent_at: Mapped[datetime | None]
