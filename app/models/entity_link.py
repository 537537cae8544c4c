from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, PlainSerializer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin, enum_column
from app.models.states import LinkOrigin


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _decimal_text(value: Decimal) -> str:
    return str(value)


class LinkState(BaseModel):
    """What the flows remember on a link: the JSON object stored in `entity_links.state`.

    Each key belongs to one flow. A key left None is not stored, and QBO -> CRM writes merge
    their keys into the stored object, so one flow's write never erases another's keys. Read it
    with `EntityLink.link_state`, store it with `stored()`: nothing else touches the JSON.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # QBO -> CRM: hash of the record the CRM was last sent (no callback while it matches).
    crm_hash: str | None = None
    # CRM invoice: `updated_at` of the snapshot last applied (older snapshots are skipped).
    updated_at: Annotated[datetime, PlainSerializer(_iso, return_type=str)] | None = None
    # CRM invoice: voided in QBO, or voided in the CRM before it ever reached QBO.
    voided: bool | None = None
    # CRM invoice: the amount paid recorded in QBO so far, and the QBO Payments that did it.
    amount_paid: Annotated[Decimal, PlainSerializer(_decimal_text, return_type=str)] | None = None
    payments: list[str] | None = None

    def stored(self) -> dict[str, Any]:
        """The JSON object to store (as earlier versions stored it: ISO times, decimal text)."""
        return self.model_dump(mode="json", exclude_none=True)


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
    # MetaData.LastUpdatedTime QBO answered our last write with, while that write's webhook is
    # still expected: the webhook naming this time is our echo and is not read back (cleared
    # once recognised, or when the object is read). See app/sync/own_echoes.py.
    echo_updated_at: Mapped[datetime | None]
    # Flow-specific progress (e.g. the invoice snapshot last applied, the amount paid so far):
    # a `LinkState` as JSON, read through `link_state`.
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    @property
    def link_state(self) -> LinkState:
        return LinkState.model_validate(self.state or {})
