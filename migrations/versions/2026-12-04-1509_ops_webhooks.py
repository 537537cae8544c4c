"""webhook intake and fair queues

Revision ID: 0009_ops_webhooks
Revises: 0008_ops_inbound
Create Date: 2026-12-04 15:09:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_ops_webhooks"
down_revision: str | None = "0008_ops_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One job per realm and entity reads that entity's pending changes in id order, a turn at a
    # time (app/sync/qbo_batches.py): the index keeps each turn's read small however many wait.
    op.create_index(
        "ix_qbo_changes_batch",
        "qbo_changes",
        ["realm_id", "entity", "state", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_qbo_changes_batch", table_name="qbo_changes")
