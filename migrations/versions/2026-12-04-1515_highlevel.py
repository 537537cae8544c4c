"""highlevel: HighLevel locations (Marketplace installs, their tokens and poll state)

Revision ID: 0015_highlevel
Revises: 0013_us_tax_mode
Create Date: 2026-12-04 15:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_highlevel"
down_revision: str | None = "0013_us_tax_mode"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "highlevel_locations",
        sa.Column("location_id", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.Text(), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("live_mode_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=True),
        sa.Column("poll_watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_webhook_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_api_error", sa.Text(), nullable=True),
        sa.Column("last_api_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_api_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_highlevel_locations")),
    )


def downgrade() -> None:
    op.drop_table("highlevel_locations")
