"""worker heartbeats and readiness

Revision ID: 0006_ops_worker
Revises: 0005_qbo_to_crm
Create Date: 2026-12-04 15:06:00+00:00
"""

from collections.abc import Sequence

revision: str = "0006_ops_worker"
down_revision: str | None = "0005_qbo_to_crm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
