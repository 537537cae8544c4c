"""Accountant's view: reconciliation runs and the re-syncs they asked for.

Revision ID: 0017_reconciliation
Revises: 0016_accountant
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_reconciliation"
down_revision: str | None = "0016_accountant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("summary", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("lines", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_reconciliation_runs_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        "ix_reconciliation_runs_connection",
        "reconciliation_runs",
        ["connection_id", "started_at"],
    )
    op.create_table(
        "reconciliation_resyncs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("crm_id", sa.String(length=200), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("qbo_id", sa.String(length=64), nullable=True),
        sa.Column("crm_event_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_reconciliation_resyncs_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_resyncs")),
    )
    op.create_index(
        "ix_reconciliation_resyncs_document",
        "reconciliation_resyncs",
        ["connection_id", "kind", "crm_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_resyncs_document", table_name="reconciliation_resyncs")
    op.drop_table("reconciliation_resyncs")
    op.drop_index("ix_reconciliation_runs_connection", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
