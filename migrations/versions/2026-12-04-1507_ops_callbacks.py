"""callback delivery

Revision ID: 0007_ops_callbacks
Revises: 0006_ops_worker
Create Date: 2026-12-04 15:07:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_ops_callbacks"
down_revision: str | None = "0006_ops_worker"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Leases instead of row locks held across the HTTP call, give-up time and resends.
    op.add_column("crm_callbacks", sa.Column("claim_token", sa.Uuid(), nullable=True))
    op.add_column(
        "crm_callbacks", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "crm_callbacks", sa.Column("resent_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_crm_callbacks_location_state",
        "crm_callbacks",
        ["location_id", "state", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_crm_callbacks_location_state", table_name="crm_callbacks")
    op.drop_column("crm_callbacks", "resent_at")
    op.drop_column("crm_callbacks", "failed_at")
    op.drop_column("crm_callbacks", "claim_token")
