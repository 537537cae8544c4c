"""retention, company release and settings

Revision ID: 0010_ops_retention
Revises: 0009_ops_webhooks
Create Date: 2026-12-04 15:10:00+00:00
"""

from collections.abc import Sequence

revision: str = "0010_ops_retention"
down_revision: str | None = "0009_ops_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
