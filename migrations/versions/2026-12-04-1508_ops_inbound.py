"""inbound outcomes and echo records

Revision ID: 0008_ops_inbound
Revises: 0007_ops_callbacks
Create Date: 2026-12-04 15:08:00+00:00
"""

from collections.abc import Sequence

revision: str = "0008_ops_inbound"
down_revision: str | None = "0007_ops_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
