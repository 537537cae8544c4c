"""inbound outcomes and echo records

Revision ID: 0008_ops_inbound
Revises: 0007_ops_callbacks
Create Date: 2026-12-04 15:08:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_ops_inbound"
down_revision: str | None = "0007_ops_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The entities whose changes have a flow (app/sync/qbo_changes.py FLOWS) when this was written.
_HANDLED = ("Customer", "Invoice", "Payment")


def upgrade() -> None:
    # Changes of other entities (Item, SalesReceipt, ...) used to wait as `pending` for ever and
    # were re-queued at every reconnect; they are `skipped` with the reason now, as new ones are.
    op.execute(
        sa.text(
            "UPDATE qbo_changes SET state = 'skipped', processed_at = now(), "
            "state_reason = 'skipped: this service syncs no ' || entity || "
            "' changes (it handles: Customer, Invoice, Payment)' "
            "WHERE state = 'pending' AND entity NOT IN :handled"
        ).bindparams(sa.bindparam("handled", _HANDLED, expanding=True))
    )


def downgrade() -> None:
    # Data only: a skipped change stays skipped (nothing would ever process it).
    pass
