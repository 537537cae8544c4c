"""company release, oauth pkce and location ids

Revision ID: 0011_ops_connections
Revises: 0010_ops_retention
Create Date: 2026-12-04 15:11:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_ops_connections"
down_revision: str | None = "0010_ops_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "company_releases",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.String(length=200), nullable=False),
        sa.Column("realm_id", sa.String(length=64), nullable=False),
        sa.Column("company_name", sa.String(length=500), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "released_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "links",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "review_requests",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("link_count", sa.Integer(), nullable=False),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_company_releases_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_releases")),
    )
    op.create_index(
        "ix_company_releases_connection_realm",
        "company_releases",
        ["connection_id", "realm_id"],
        unique=False,
    )
    op.add_column("oauth_states", sa.Column("code_verifier", sa.String(length=128), nullable=True))


def downgrade() -> None:
    op.drop_column("oauth_states", "code_verifier")
    op.drop_index("ix_company_releases_connection_realm", table_name="company_releases")
    op.drop_table("company_releases")
