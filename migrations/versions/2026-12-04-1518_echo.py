"""Our own writes recognised from their webhook: the LastUpdatedTime QBO answered a write with.

Revision ID: 0018_echo
Revises: 0017_reconciliation
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_echo"
down_revision: str | None = "0017_reconciliation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: no echo expected (every existing link), so its next webhook is read as before.
    op.add_column(
        "entity_links",
        sa.Column("echo_updated_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("entity_links", "echo_updated_at")
