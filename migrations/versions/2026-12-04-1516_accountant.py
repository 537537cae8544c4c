"""Accountant's view: deposit and fee accounts per connection, doctor results.

Revision ID: 0016_accountant
Revises: 0015_highlevel
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0016_accountant"
down_revision: str | None = "0015_highlevel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
