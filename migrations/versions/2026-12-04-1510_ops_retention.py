"""retention, company release and settings

Revision ID: 0010_ops_retention
Revises: 0009_ops_webhooks
Create Date: 2026-12-04 15:10:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_ops_retention"
down_revision: str | None = "0009_ops_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Finished jobs are found by their last event's time; only final events of jobs the purge may
# delete are indexed, so a job being deferred (the intake's hot path) writes nothing here.
_FINAL_EVENTS_INDEX = "ix_qbs_procrastinate_events_final_at"
_FKS = (
    ("fk_sync_log_crm_event_id_crm_events", "crm_event_id", "crm_events"),
    ("fk_sync_log_qbo_change_id_qbo_changes", "qbo_change_id", "qbo_changes"),
)


def _replace_foreign_keys(on_delete: str) -> None:
    # Like every revision this runs in one transaction: sync_log is locked against writes while
    # its indexes are built and the foreign keys re-checked (time grows with the sync log).
    for name, column, table in _FKS:
        op.execute(f"ALTER TABLE sync_log DROP CONSTRAINT {name}")
        op.execute(
            f"ALTER TABLE sync_log ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
            f"REFERENCES {table} (id) {on_delete}"
        )


def upgrade() -> None:
    op.create_index("ix_sync_log_created_at", "sync_log", ["created_at"], unique=False)
    op.create_index(op.f("ix_sync_log_crm_event_id"), "sync_log", ["crm_event_id"], unique=False)
    op.create_index(op.f("ix_sync_log_qbo_change_id"), "sync_log", ["qbo_change_id"], unique=False)
    _replace_foreign_keys("ON DELETE SET NULL")
    op.execute(
        f"CREATE INDEX {_FINAL_EVENTS_INDEX} ON procrastinate_events (at) "
        "WHERE type IN ('succeeded', 'cancelled', 'aborted')"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {_FINAL_EVENTS_INDEX}")
    _replace_foreign_keys("")
    op.drop_index(op.f("ix_sync_log_qbo_change_id"), table_name="sync_log")
    op.drop_index(op.f("ix_sync_log_crm_event_id"), table_name="sync_log")
    op.drop_index("ix_sync_log_created_at", table_name="sync_log")
