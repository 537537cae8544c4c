"""us tax mode: a US connection's sales tax folded into the lines or posted as tax

Revision ID: 0013_us_tax_mode
Revises: 0012_write_intents
Create Date: 2026-12-04 15:13:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_us_tax_mode"
down_revision: str | None = "0012_write_intents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing connections keep today's behaviour: "fold".
    op.add_column(
        "connections",
        sa.Column("us_tax_mode", sa.String(length=8), server_default="fold", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_connections_us_tax_mode_known"), "connections", "us_tax_mode IN ('fold', 'post')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_connections_us_tax_mode_known"), "connections", type_="check")
    op.drop_column("connections", "us_tax_mode")
