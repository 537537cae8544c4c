"""Accountant's view: deposit and fee accounts per connection, doctor results.

Revision ID: 0016_accountant
Revises: 0015_highlevel
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_accountant"
down_revision: str | None = "0015_highlevel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL keeps today's behaviour: QBO deposits to Undeposited Funds, no fee is recorded.
    op.add_column("connections", sa.Column("deposit_account_id", sa.String(64), nullable=True))
    op.add_column("connections", sa.Column("fee_expense_account_id", sa.String(64), nullable=True))
    op.create_table(
        "doctor_results",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("worst", sa.String(length=8), nullable=False),
        sa.Column("checks", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("accounts", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_doctor_results_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_doctor_results")),
    )


def downgrade() -> None:
    op.drop_table("doctor_results")
    op.drop_column("connections", "fee_expense_account_id")
    op.drop_column("connections", "deposit_account_id")
