from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class OAuthState(Base):
    """One connect attempt: what the CRM asked for, and how far the browser got with it."""

    __tablename__ = "oauth_states"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    location_id: Mapped[str] = mapped_column(sa.String(200), index=True)
    import_invoices: Mapped[bool]
    review_automation: Mapped[bool]
    return_url: Mapped[str] = mapped_column(sa.String(2000))
    expires_at: Mapped[datetime]
    # The connect link is single-use (started_at) and so is the callback (completed_at).
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(64))
    # PKCE (RFC 7636): sent to Intuit's token endpoint once, then cleared by claim_completion.
    code_verifier: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
