"""webhook intake and fair queues

Revision ID: 0009_ops_webhooks
Revises: 0008_ops_inbound
Create Date: 2026-12-04 15:09:00+00:00
"""

from collections.abc import Sequence

revision: str = "0009_ops_webhooks"
down_revision: str | None = "0008_ops_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
