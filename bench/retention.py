"""Retention: how long `qbo-sync purge` takes over many old rows, and its longest transaction.

Fills a fresh database with --rows finished CRM events 120 days old (each with its synced
sync-log entry, which stays), --rows sync-log entries 500 days old and --rows succeeded jobs 120
days old (three procrastinate events each), plus --recent events and jobs that must stay; then
times the dry run and the purge (batches of QBS_RETENTION_BATCH_SIZE, default 1000), and the
longest single batch, i.e. the longest time any row lock is held.

    DATABASE_URL=postgresql://... uv run python bench/retention.py [--rows 100000]

Results: stdout, and bench/results/retention-<utc>.json (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import RetentionSettings
from app.db import migrate
from app.db.session import create_engine, create_session_factory, libpq_url
from app.repositories import retention as retention_sql
from app.sync import retention
from bench.harness import fresh_database, postgres_server

# Old rows are 120 days old: their events and jobs are past the 90 days, their sync-log entries
# (400 days) stay and lose their event link. Ancient sync-log entries (500 days) go too.
FILL = """
INSERT INTO connections (id, location_id, realm_id, status, import_invoices, review_automation,
                         import_progress)
VALUES ('00000000-0000-0000-0000-000000000001', 'loc_bench', '9130000000000001', 'active',
        false, false, '{}');
INSERT INTO crm_events (location_id, event_id, type, occurred_at, body_hash, payload, object_kind,
                        object_id, state, attempts, received_at, processed_at)
SELECT 'loc_bench', 'evt_' || n, 'invoice.sent', at, repeat('0', 64),
       jsonb_build_object('id', 'evt_' || n, 'data', jsonb_build_object('id', 'inv_' || n)),
       'invoice', 'inv_' || n, 'done', 1, at, at
FROM (SELECT n, now() - make_interval(days => CASE WHEN n <= %(rows)s THEN 120 ELSE 1 END)
                  + make_interval(secs => n) AS at
      FROM generate_series(1, %(rows)s + %(recent)s) AS n) AS s;
INSERT INTO sync_log (connection_id, direction, kind, crm_id, qbo_id, state, crm_event_id,
                      attempts, qbo_requests, details, created_at, updated_at)
SELECT '00000000-0000-0000-0000-000000000001', 'crm_to_qbo', 'invoice', object_id, '1', 'synced',
       id, 1, 1, '{}', received_at, received_at
FROM crm_events;
INSERT INTO sync_log (connection_id, direction, kind, crm_id, qbo_id, state,
                      attempts, qbo_requests, details, created_at, updated_at)
SELECT '00000000-0000-0000-0000-000000000001', 'crm_to_qbo', 'invoice', 'old_' || n, '1',
       'synced', 1, 1, '{}', now() - interval '500 days', now() - interval '500 days'
FROM generate_series(1, %(rows)s) AS n;
INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, lock)
SELECT 'default', 'crm.event.process', jsonb_build_object('event_row_id', n), 'succeeded',
       'crm:loc_bench:invoice:inv_' || n
FROM generate_series(1, %(rows)s + %(recent)s) AS n;
INSERT INTO procrastinate_events (job_id, type, at)
SELECT j.id, t.type::procrastinate_job_event_type,
       now() - make_interval(days => CASE WHEN j.id <= %(rows)s THEN 120 ELSE 1 END)
FROM procrastinate_jobs j CROSS JOIN (VALUES ('deferred'), ('started'), ('succeeded')) AS t(type);
ANALYZE;
"""


def fill(url: str, rows: int, recent: int) -> float:
    started = time.monotonic()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for statement in filter(str.strip, FILL.split(";")):
            conn.execute(statement, {"rows": rows, "recent": recent})
    return time.monotonic() - started


async def measure(url: str, batch_size: int) -> dict[str, Any]:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    settings = RetentionSettings(batch_size=batch_size)
    batches: list[float] = []
    plain, jobs = retention_sql.delete_batch, retention_sql.delete_jobs_batch

    async def timed_batch(*args: Any) -> Any:
        started = time.monotonic()
        result = await plain(*args)
        batches.append(time.monotonic() - started)
        return result

    async def timed_jobs(*args: Any) -> Any:
        started = time.monotonic()
        result = await jobs(*args)
        batches.append(time.monotonic() - started)
        return result

    retention_sql.delete_batch = timed_batch  # type: ignore[assignment]
    retention_sql.delete_jobs_batch = timed_jobs  # type: ignore[assignment]
    try:
        now = datetime.now(UTC)
        started = time.monotonic()
        preview = await retention.preview(factory, settings, now)
        preview_s = time.monotonic() - started
        started = time.monotonic()
        purged = await retention.purge(factory, settings, now)
        purge_s = time.monotonic() - started
    finally:
        retention_sql.delete_batch, retention_sql.delete_jobs_batch = plain, jobs
        await engine.dispose()
    return {
        "dry_run_s": round(preview_s, 2),
        "purge_s": round(purge_s, 2),
        "batches": len(batches),
        "longest_batch_s": round(max(batches), 3),
        "median_batch_s": round(sorted(batches)[len(batches) // 2], 3),
        "would_delete": {r.table: r.rows for r in preview},
        "deleted": {r.table: r.rows for r in purged},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="old rows per kind")
    parser.add_argument("--recent", type=int, default=20_000, help="recent rows per kind (kept)")
    parser.add_argument("--batch-size", type=int, default=RetentionSettings().batch_size)
    args = parser.parse_args()
    with postgres_server() as admin, fresh_database(admin, "qbs_bench_retention") as url:
        migrate.upgrade(url)
        fill_s = fill(url, args.rows, args.recent)
        result = asyncio.run(measure(url, args.batch_size))
    total = sum(result["deleted"].values())
    report = {
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "recent": args.recent,
        "batch_size": args.batch_size,
        "fill_s": round(fill_s, 1),
        **result,
        "rows_deleted_per_s": round(total / result["purge_s"]),
    }
    print(json.dumps(report, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"retention-{stamp}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
