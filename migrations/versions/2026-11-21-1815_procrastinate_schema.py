"""procrastinate's job queue schema, applied from the installed package

Revision ID: 0001_procrastinate
Revises:
Create Date: 2026-11-21 18:15:00
"""

import importlib.resources
from collections.abc import Sequence

from alembic import op

revision: str = "0001_procrastinate"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# procrastinate's schema.sql is cumulative; this revision covers its migration files up to and
# including this version. A later procrastinate upgrade needs a revision applying newer files
# from procrastinate/sql/migrations (tests/db/test_migrations.py fails until one exists).
PROCRASTINATE_MIGRATIONS_APPLIED_UP_TO = "03.04.00"

_TABLES = (
    "procrastinate_periodic_defers",
    "procrastinate_events",
    "procrastinate_jobs",
    "procrastinate_workers",
)


def upgrade() -> None:
    schema = importlib.resources.files("procrastinate.sql").joinpath("schema.sql").read_text()
    # op.execute escapes the `%` in plpgsql RAISE lines; exec_driver_sql would not.
    op.execute(schema)


def downgrade() -> None:
    for table in _TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute(
        "DO $$ DECLARE r record; BEGIN "
        "FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname LIKE 'procrastinate%' AND n.nspname = current_schema() LOOP "
        "EXECUTE 'DROP FUNCTION IF EXISTS ' || r.sig || ' CASCADE'; END LOOP; "
        "FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE t.typname LIKE 'procrastinate%' AND t.typtype IN ('e', 'c') "
        "AND n.nspname = current_schema() LOOP "
        "EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(r.typname) || ' CASCADE'; END LOOP; END $$"
    )
