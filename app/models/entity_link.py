from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin, enum_column
from app.models.states import LinkOrigin


class EntityLink(TimestampMixin, Base):
    """CRM id <-> QBO id for one object kind of one connection, with what we last wrote."""

    __tablename__ = "entity_links"
    __table_args__ = (
        sa.UniqueConstraint("connection_id", "kind", "crm_id"),
        sa.UniqueConstraint("connection_id", "kind", "qbo_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("connections.id"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    crm_id: Mapped[str | None] = mapped_column(sa.String(200))
    qbo_id: Mapped[str | None] = mapped_column(sa.String(64))
    origin: Mapped[LinkOrigin] = mapped_column(enum_column(LinkOrigin))
    sync_token: Mapped[str | None] = mapped_column(sa.String(32))
    # Hash of the fields we last wrote or read, so our own echoes are recognised.
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # Flow-specific progress (e.g. the invoice snapshot last applied, the amount paid so far).
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
