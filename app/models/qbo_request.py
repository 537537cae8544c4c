from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class QboRequestSlot(Base):
    """One QBO request, for the per-realm limits every process shares (in flight, per minute)."""

    __tablename__ = "qbo_request_slots"
    __table_args__ = (sa.Index("ix_qbo_request_slots_realm_started", "realm_id", "started_at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    realm_id: Mapped[str] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(server_default=sa.func.clock_timestamp())
    # A process that dies mid-request frees its slot when the lease runs out.
    lease_until: Mapped[datetime]
    finished_at: Mapped[datetime | None]
