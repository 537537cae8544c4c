from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin, enum_column
from app.models.states import ConnectionStatus, ImportState

# connections.import_state is VARCHAR(32); the full reason goes to the log and the callback.
IMPORT_STATE_CHARS = 32


class Connection(TimestampMixin, Base):
    """One CRM location linked (or being linked) to one QBO realm."""

    __tablename__ = "connections"
    __table_args__ = (
        sa.CheckConstraint("us_tax_mode IN ('fold', 'post')", name="us_tax_mode_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    location_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    realm_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[ConnectionStatus] = mapped_column(
        enum_column(ConnectionStatus), default=ConnectionStatus.PENDING
    )
    import_invoices: Mapped[bool] = mapped_column(default=False)
    review_automation: Mapped[bool] = mapped_column(default=False)
    # US companies: "fold" puts the CRM's tax into the line amounts, "post" sends it as sales
    # tax (TxnTaxDetail.TotalTax). See app/sync/mapping/us.py.
    us_tax_mode: Mapped[str] = mapped_column(sa.String(8), default="fold", server_default="fold")

    company_name: Mapped[str | None] = mapped_column(sa.String(500))
    country: Mapped[str | None] = mapped_column(sa.String(3))
    home_currency: Mapped[str | None] = mapped_column(sa.String(3))
    multicurrency: Mapped[bool | None]
    sales_tax_mode: Mapped[str | None] = mapped_column(sa.String(32))
    custom_txn_numbers: Mapped[bool | None]

    # Fernet tokens; never logged, never returned by the API.
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    access_token_expires_at: Mapped[datetime | None]
    refresh_token_expires_at: Mapped[datetime | None]

    # When the stored access token was last obtained: a 401 on an older token refreshes, a 401
    # racing a refresh that just happened uses the new token instead of refreshing again.
    token_refreshed_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]

    # The Income account new Service items post to, chosen once per connection (S3 items).
    income_account_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Where sales receipts and invoice payments deposit (None: QBO's default, Undeposited
    # Funds), and the expense account a CRM payment's processor fee is booked to (None: fees
    # are not recorded). Chosen on the card or by PATCH (app/sync/connections/payment_accounts).
    deposit_account_id: Mapped[str | None] = mapped_column(sa.String(64))
    fee_expense_account_id: Mapped[str | None] = mapped_column(sa.String(64))

    # Initial import of QBO customers (and invoices): queued at connect, run by the importer.
    # An `ImportState`, then ": <reason>" when retrying, paused or failed, as GET and the
    # `connection.status` callback show it. Decide on `import_phase`; write `set_import_state`.
    import_state: Mapped[str | None] = mapped_column(sa.String(IMPORT_STATE_CHARS))
    # Per kind: {"customers": {"done": n, "total": n, "next_position": k}, "invoices": {...}}.
    import_progress: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default="{}"
    )

    cdc_watermark: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(sa.Text)

    @property
    def import_phase(self) -> ImportState | None:
        """The initial import's state, without its reason; None when there is no import."""
        if self.import_state is None:
            return None
        return ImportState(self.import_state.split(":", 1)[0])

    def set_import_state(self, state: ImportState | None, reason: str | None = None) -> None:
        """Record the import's state (and why, for retrying, paused, failed), cut to fit."""
        if state is None:
            self.import_state = None
            return
        text = f"{state.value}: {reason}" if reason else state.value
        limit = IMPORT_STATE_CHARS
        self.import_state = text if len(text) <= limit else text[: limit - 1] + "…"
