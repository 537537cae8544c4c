"""company release, oauth pkce and location ids

Revision ID: 0011_ops_connections
Revises: 0010_ops_retention
Create Date: 2026-12-04 15:11:00+00:00
"""

from collections.abc import Sequence

revision: str = "0011_ops_connections"
down_revision: str | None = "0010_ops_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
