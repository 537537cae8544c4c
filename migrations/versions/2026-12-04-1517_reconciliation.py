"""Accountant's view: reconciliation runs.

Revision ID: 0017_reconciliation
Revises: 0016_accountant
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0017_reconciliation"
down_revision: str | None = "0016_accountant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
