from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class DoctorResult(Base):
    """The last settings-doctor run of a connection (app/sync/doctor): one row, replaced."""

    __tablename__ = "doctor_results"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    checked_at: Mapped[datetime]
    # connect | daily | manual
    trigger: Mapped[str] = mapped_column(sa.String(16))
    # ok | warn | fail: the worst of the checks.
    worst: Mapped[str] = mapped_column(sa.String(8))
    # [{"key", "status", "title", "message", "action"}], in the order shown.
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    # The company's Bank and Other Current Asset accounts, the deposit account choices on the card.
    accounts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
