"""callback delivery

Revision ID: 0007_ops_callbacks
Revises: 0006_ops_worker
Create Date: 2026-12-04 15:07:00+00:00
"""

from collections.abc import Sequence

revision: str = "0007_ops_callbacks"
down_revision: str | None = "0006_ops_worker"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
