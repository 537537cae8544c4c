"""Retention: finished records are deleted after their retention period; nothing else ever is.

Every table, and what happens to it (days from QBS_RETENTION_*; 0 keeps a table for ever):

- ``crm_events``, ``qbo_changes`` (90 days after processing): ``done`` and ``skipped`` ones; a
  ``failed`` one only once its sync-log entry was retried (a newer entry of the same object
  exists). ``pending`` and ``processing`` ones never. An event a failed, not retried sync-log
  entry points at stays, because Retry re-runs it.
- ``sync_log`` (400 days): ``synced`` and ``skipped`` entries, and ``failed`` ones once retried.
  It is kept longer than the events: a person reads it. A purged event leaves its entries with
  ``crm_event_id``/``qbo_change_id`` NULL (ON DELETE SET NULL).
- ``crm_callbacks`` (60 days after delivery): ``delivered`` only; pending (retrying) and
  ``failed`` callbacks stay until delivered or resent.
- ``oauth_states`` (7 days after the connect link expired).
- ``qbo_request_slots`` (a day): bookkeeping of QBO's rate limits, already pruned per realm on
  each request; only realms that went quiet leave rows behind.
- ``procrastinate_jobs`` with their ``procrastinate_events`` (90 days after they finished):
  ``succeeded``, ``cancelled`` and ``aborted`` jobs; never ``todo``, ``doing`` or ``failed``.
  ``procrastinate_periodic_defers`` keeps one row per periodic task on its own, and
  ``procrastinate_workers`` are pruned by the workers when their heartbeats stop.
- ``connections``, ``entity_links``, ``review_requests``, ``company_releases``: never. They are the
  identity map and the exactly-once records (one review request per customer), and grow with the
  number of objects and companies, not with time.

Exactly once after a purge: a CRM event id is deduplicated only while its row exists, so the same
event re-delivered after its retention period is accepted again. That is acceptable because the
row is not what makes processing safe (docs/design.md, "Exactly once"): handlers reconcile to the
newest state through ``entity_links``, which are never purged. A payment already synced has its
link and is skipped ("already synced"); an invoice snapshot older than the one applied is skipped;
a contact's fields are pushed only when they differ from what we last wrote. The same holds for a
QBO change, whose entity is read afresh from QuickBooks. A CRM retries a delivery for hours or
days, not months, so this is a manual replay at most, and it creates nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import RetentionSettings
from app.db.session import SessionFactory, session_scope
from app.logging import get_logger
from app.repositories import retention
from app.repositories.retention import Affected, Target

log = get_logger(__name__)

QBO_REQUEST_SLOTS_DAYS = 1


@dataclass(frozen=True, slots=True)
class Scope:
    """One table to purge and the time before which its finished rows go."""

    target: Target
    cutoff: datetime


def scopes(settings: RetentionSettings, now: datetime) -> list[Scope]:
    """The tables to purge, in the order a purge must take them.

    Events before the sync log: whether a failed event may go depends on its sync-log entries.
    """
    days = [
        (retention.CRM_EVENTS, settings.crm_events_days),
        (retention.QBO_CHANGES, settings.qbo_changes_days),
        (retention.SYNC_LOG, settings.sync_log_days),
        (retention.DELIVERED_CALLBACKS, settings.delivered_callbacks_days),
        (retention.OAUTH_STATES, settings.oauth_states_days),
        (retention.QBO_REQUEST_SLOTS, QBO_REQUEST_SLOTS_DAYS),
        (retention.JOBS, settings.jobs_days),
    ]
    return [Scope(target, now - timedelta(days=n)) for target, n in days if n > 0]


@dataclass(slots=True)
class TableReport:
    table: str
    rows: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None

    def add(self, affected: Affected) -> None:
        self.rows += affected.rows
        if affected.oldest is not None:
            self.oldest = min(self.oldest or affected.oldest, affected.oldest)
        if affected.newest is not None:
            self.newest = max(self.newest or affected.newest, affected.newest)


async def preview(
    factory: SessionFactory, settings: RetentionSettings, now: datetime
) -> list[TableReport]:
    """What `purge` would delete now, per table; deletes nothing."""
    reports: list[TableReport] = []
    async with session_scope(factory) as session:
        for scope in scopes(settings, now):
            if scope.target is retention.JOBS:
                jobs = await retention.count(session, scope.target, scope.cutoff)
                events = await retention.count_job_events(session, scope.cutoff)
                reports += [_report(jobs), _report(events)]
            else:
                reports.append(_report(await retention.count(session, scope.target, scope.cutoff)))
    return reports


def _report(affected: Affected) -> TableReport:
    report = TableReport(affected.table)
    report.add(affected)
    return report


Progress = Callable[[TableReport], None]


async def purge(
    factory: SessionFactory,
    settings: RetentionSettings,
    now: datetime,
    *,
    on_table: Progress | None = None,
) -> list[TableReport]:
    """Delete every finished row past its retention, a batch per transaction, oldest first."""
    reports: list[TableReport] = []
    for scope in scopes(settings, now):
        started = time.monotonic()
        if scope.target is retention.JOBS:
            done = await _purge_jobs(factory, scope.cutoff, settings.batch_size)
        else:
            done = [await _purge_table(factory, scope, settings.batch_size)]
        for report in done:
            log.info(
                "retention.purged",
                table=report.table,
                rows=report.rows,
                cutoff=scope.cutoff.isoformat(),
                seconds=round(time.monotonic() - started, 3),
            )
            if on_table is not None:
                on_table(report)
        reports += done
    return reports


async def _purge_table(factory: SessionFactory, scope: Scope, batch_size: int) -> TableReport:
    report = TableReport(scope.target.table)
    while True:
        # One short transaction per batch: row locks are held for one batch only.
        async with session_scope(factory) as session:
            affected = await retention.delete_batch(session, scope.target, scope.cutoff, batch_size)
        report.add(affected)
        if affected.rows < batch_size:
            return report


async def _purge_jobs(
    factory: SessionFactory, cutoff: datetime, batch_size: int
) -> list[TableReport]:
    jobs = TableReport(retention.JOBS.table)
    events = TableReport(retention.JOB_EVENTS_TABLE)
    while True:
        async with session_scope(factory) as session:
            gone_jobs, gone_events = await retention.delete_jobs_batch(session, cutoff, batch_size)
        jobs.add(gone_jobs)
        events.add(gone_events)
        if gone_jobs.rows < batch_size:
            return [jobs, events]
