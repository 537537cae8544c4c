from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class ReviewRequest(Base):
    """The one review-request decision per QBO customer (Q2): the unique key makes it once."""

    __tablename__ = "review_requests"
    __table_args__ = (sa.UniqueConstraint("connection_id", "qbo_customer_id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("connections.id"))
    qbo_customer_id: Mapped[str] = mapped_column(sa.String(64))
    qbo_invoice_id: Mapped[str | None] = mapped_column(sa.String(64))
    # "sent", or why not: "toggle_off", "paid_before_connecting", "had_paid_invoice_before", ...
    decision: Mapped[str] = mapped_column(sa.String(64))
    decided_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
