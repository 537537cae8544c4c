"""`qbo-sync reconcile --location L --from D --to D [--csv FILE]`: the reconciliation report,
with progress on stderr; `--resync KIND:CRM_ID` re-applies one document instead.

Exit 0 when every line matched or was skipped, 1 otherwise (or when the report could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any, Protocol

from app.config import Settings
from app.db.session import SessionFactory
from app.errors import AppError
from app.terminal import terminal_safe


class HasDatabase(Protocol):
    @property
    def factory(self) -> SessionFactory: ...

    @property
    def url(self) -> str: ...


DatabaseOpener = Callable[[], AbstractAsyncContextManager[HasDatabase]]

COLUMNS = ("kind", "crm_id", "label", "date", "currency", "verdict", "crm_total", "qbo_entity",
           "qbo_id", "qbo_total", "crm_paid", "qbo_paid", "crm_balance", "qbo_balance",
           "differences", "reason")  # fmt: skip


def add_parser(
    commands: Any, *, settings: Callable[[], Settings], database: DatabaseOpener
) -> None:
    """Register `reconcile`; app/cli.py hands over how it loads settings and opens the DB."""
    command = commands.add_parser(
        "reconcile", help="compare a period's CRM documents with QuickBooks (the card's report)"
    )
    command.add_argument("--location", required=True, help="the CRM location id")
    command.add_argument("--from", dest="period_from", type=date.fromisoformat, help="YYYY-MM-DD")
    command.add_argument("--to", dest="period_to", type=date.fromisoformat, help="YYYY-MM-DD")
    command.add_argument("--csv", help="also write every line to this CSV file")
    command.add_argument(
        "--resync", metavar="KIND:CRM_ID", help="re-sync one document (invoice:inv_1)"
    )
    command.set_defaults(func=lambda args: run(args, settings, database))


def _err(line: str) -> None:
    print(terminal_safe(line), file=sys.stderr)  # noqa: T201 - progress is for the operator


def _out(line: str) -> None:
    print(terminal_safe(line))  # noqa: T201 - the operator commands' output is for people


def _progress(done: int, total: int) -> None:
    _err(f"compared {done} of {total} documents")


def run(
    args: argparse.Namespace, settings: Callable[[], Settings], database: DatabaseOpener
) -> int:
    try:
        if args.resync:
            kind, _, crm_id = args.resync.partition(":")
            queued = asyncio.run(_resync(args.location, kind, crm_id, settings(), database))
            _out(f"re-sync queued ({queued['action']}): {kind} {crm_id}")
            return 0
        if args.period_from is None or args.period_to is None:
            _err("error: --from and --to are required (or --resync KIND:CRM_ID)")
            return 2
        report = asyncio.run(_report(args, settings(), database))
    except AppError as exc:
        _err(f"error: {exc}")
        return 1
    by_verdict = report["summary"]["by_verdict"]
    _out(f"Reconciliation of {args.location}, {report['from']} to {report['to']}:")
    for verdict, sums in by_verdict.items():
        money = ", ".join(f"{c} {s['crm_total']}" for c, s in sums["by_currency"].items())
        _out(f"  {verdict:15} {sums['count']:6}  {money}")
    for line in report["lines"]:
        if line["verdict"] not in ("matched", "skipped"):
            diffs = "; ".join(f"{d['field']}: {d['crm']} / {d['qbo']}" for d in line["differences"])
            reason = line["reason"] or ""
            _out(f"  {line['verdict']:15} {line['kind']} {line['crm_id']} {diffs} {reason}")
    if args.csv:
        _write_csv(args.csv, report["lines"])
    bad = sum(by_verdict[v]["count"] for v in ("mismatch", "missing_in_qbo", "changed_in_qbo"))
    return 1 if bad else 0


def _write_csv(path: str, lines: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for line in lines:
            crm, qbo = line["crm"], line["qbo"]
            diffs = "; ".join(f"{d['field']}: {d['crm']} / {d['qbo']}" for d in line["differences"])
            writer.writerow(
                (
                    line["kind"],
                    line["crm_id"],
                    line["label"],
                    line["date"],
                    line["currency"],
                    line["verdict"],
                    crm["total"],
                    qbo["entity"],
                    qbo["id"],
                    qbo["total"],
                    crm["amount_paid"],
                    qbo["amount_paid"],
                    crm["balance"],
                    qbo["balance"],
                    diffs,
                    line["reason"] or "",
                )
            )


async def _report(args: argparse.Namespace, settings: Settings, database: DatabaseOpener) -> Any:
    from app.sync.reconcile.run import reconcile
    from app.wiring import build_services

    async with database() as db, build_services(settings, db.factory) as services:
        report = await reconcile(
            db.factory,
            services,
            args.location,
            args.period_from,
            args.period_to,
            on_progress=_progress,
        )
    return report.as_json()


async def _resync(
    location: str, kind: str, crm_id: str, settings: Settings, database: DatabaseOpener
) -> dict[str, str]:
    from app.config import WorkerSettings
    from app.jobs.app import build_job_app
    from app.sync.reconcile.resync import resync
    from app.wiring import build_services

    async with database() as db, build_services(settings, db.factory) as services:
        # Never opened: it only names the task; the job goes in on the session's connection.
        job_app = build_job_app(db.url, WorkerSettings())
        queued = await resync(db.factory, services, job_app, location, kind, crm_id)
    return queued.as_json()
