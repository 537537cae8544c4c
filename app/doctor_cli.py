"""`qbo-sync doctor --location L`: run the settings doctor of a location and print its checks.

Exit 0 when nothing failed (warnings allowed), 1 when a check failed or the doctor could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from app.config import Settings
from app.db.session import SessionFactory
from app.errors import AppError
from app.terminal import terminal_safe

MARKS = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}


class HasFactory(Protocol):
    @property
    def factory(self) -> SessionFactory: ...


DatabaseOpener = Callable[[], AbstractAsyncContextManager[HasFactory]]


def add_parser(
    commands: Any, *, settings: Callable[[], Settings], database: DatabaseOpener
) -> None:
    """Register `doctor`; app/cli.py hands over how it loads settings and opens the DB."""
    doctor = commands.add_parser(
        "doctor", help="check a location's QuickBooks settings (the card's Health check)"
    )
    doctor.add_argument("--location", required=True, help="the CRM location id")
    doctor.add_argument("--json", action="store_true", help="print the result as JSON")
    doctor.set_defaults(func=lambda args: run(args, settings, database))


def _out(line: str = "") -> None:
    print(terminal_safe(line))  # noqa: T201 - the operator commands' output is for people


def run(
    args: argparse.Namespace, settings: Callable[[], Settings], database: DatabaseOpener
) -> int:
    try:
        result = asyncio.run(_run(args.location, settings(), database))
    except AppError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)  # noqa: T201 - for the operator
        return 1
    if args.json:
        _out(json.dumps(result, indent=2))
    else:
        _out(f"Health check of {args.location} ({result['checked_at']}): {result['status']}")
        for check in result["checks"]:
            _out(f"{MARKS[check['status']]}  {check['title']}: {check['message']}")
            if check["status"] != "ok" and check["action"]:
                _out(f"      What to do: {check['action']}")
    return 1 if result["status"] == "fail" else 0


async def _run(location: str, settings: Settings, database: DatabaseOpener) -> dict[str, Any]:
    from app.sync.doctor.run import run_doctor
    from app.wiring import build_services

    async with database() as db, build_services(settings, db.factory) as services:
        report = await run_doctor(db.factory, services, location, "manual")
    return report.as_json()
