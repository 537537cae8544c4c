from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class CompanyRelease(Base):
    """A QBO company a location let go of, with the links it had, kept for audit.

    The links (and review decisions) hold QBO ids of that company, so they leave the live
    tables at release: another company's ids would collide with them. They come back only if
    the same company is connected to the same location again (app/sync/company_release.py).
    """

    __tablename__ = "company_releases"
    __table_args__ = (
        sa.Index("ix_company_releases_connection_realm", "connection_id", "realm_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("connections.id"))
    location_id: Mapped[str] = mapped_column(sa.String(200))
    realm_id: Mapped[str] = mapped_column(sa.String(64))
    company_name: Mapped[str | None] = mapped_column(sa.String(500))
    connected_at: Mapped[datetime | None]
    released_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    # The entity_links and review_requests rows as they were (to_jsonb of each row).
    links: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default="[]")
    review_requests: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default="[]")
    link_count: Mapped[int] = mapped_column(default=0)
    # Set when the same company came back to the same location and the links were restored.
    restored_at: Mapped[datetime | None]
