"""A HighLevel location (sub-account) that installed our Marketplace app."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin


class HighLevelLocation(TimestampMixin, Base):
    """Install state, OAuth tokens and poll/webhook bookkeeping of one HighLevel location.

    The location is also a row of `connections` (same `location_id`), which holds everything
    QuickBooks-side; this row only holds what is HighLevel's.
    """

    __tablename__ = "highlevel_locations"

    location_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    company_id: Mapped[str | None] = mapped_column(sa.Text)
    installed_at: Mapped[datetime]
    uninstalled_at: Mapped[datetime | None]
    # HighLevel test-mode (`liveMode: false`) documents reach QuickBooks only when opted in.
    live_mode_opt_in: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Fernet tokens (app/security/tokens.py, as for QBO); never logged, never returned.
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    token_expires_at: Mapped[datetime | None]
    # When the stored access token was obtained: a 401 on an older token refreshes, one racing a
    # refresh that just happened uses the new token (as app/services/tokens.py does for QBO).
    token_refreshed_at: Mapped[datetime | None]
    scopes: Mapped[str | None] = mapped_column(sa.Text)
    poll_watermark: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    last_webhook_at: Mapped[datetime | None]
    # Connection health shown on the card: the last API failure and the last success.
    last_api_error: Mapped[str | None] = mapped_column(sa.Text)
    last_api_error_at: Mapped[datetime | None]
    last_api_ok_at: Mapped[datetime | None]

    @property
    def installed(self) -> bool:
        return self.uninstalled_at is None
