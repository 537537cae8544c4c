"""`qbo-sync verify-qbo`: the QBO contract checks, against a fresh emulator or a real sandbox.

Without --location it starts an emulator of its own on 127.0.0.1 (CI runs it: every check must
pass). With QBO_ENVIRONMENT=sandbox and --location L it runs the same checks against the sandbox
company L is connected to (app/services/verify_qbo.py), so a sandbox report shows where the
emulator and QBO differ. Prints a table; --json FILE writes the report. Exit 0 when every check
passed, 1 otherwise, 2 when it refuses to run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.config import QboEnvironment, Settings
from app.db.session import SessionFactory
from app.errors import AppError
from app.terminal import terminal_safe

if TYPE_CHECKING:
    from app.integrations.quickbooks.contract import Report

EMULATOR_START_TIMEOUT_S = 20.0
CELL_WIDTH = 58


class HasFactory(Protocol):
    @property
    def factory(self) -> SessionFactory: ...


DatabaseOpener = Callable[[], AbstractAsyncContextManager[HasFactory]]


def add_parser(
    commands: Any, *, settings: Callable[[], Settings], database: DatabaseOpener
) -> None:
    """Register `verify-qbo`; app/cli.py hands over how it loads settings and opens the DB."""
    verify = commands.add_parser(
        "verify-qbo",
        help="run the QBO contract checks (a fresh emulator; a sandbox with --location)",
    )
    verify.add_argument(
        "--location",
        default=None,
        help="run against the sandbox company this CRM location is connected to "
        "(needs QBO_ENVIRONMENT=sandbox)",
    )
    verify.add_argument("--json", type=Path, default=None, help="write the JSON report here")
    verify.set_defaults(func=lambda args: verify_qbo(args, settings, database))


def _out(line: str = "") -> None:
    print(terminal_safe(line))  # noqa: T201 - the command's table is for people


def verify_qbo(
    args: argparse.Namespace, settings: Callable[[], Settings], database: DatabaseOpener
) -> int:
    from app.services.verify_qbo import refuse_unless_sandbox

    # Read before the service's own settings checks run, so production is refused first.
    configured = Settings()
    try:
        if args.location is None:
            if configured.qbo.environment is not QboEnvironment.EMULATOR:
                raise AppError(
                    f"QBO_ENVIRONMENT={configured.qbo.environment.value}: say which connected "
                    "company to check with --location (only a sandbox is accepted)"
                )
            report = _against_emulator()
        else:
            refuse_unless_sandbox(configured)
            report = asyncio.run(_against_sandbox(args.location, settings(), database))
    except AppError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)  # noqa: T201 - for the operator
        return 2
    print_report(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report.public(), indent=2, default=str) + "\n")
        _out(f"Report written to {args.json}")
    return 0 if report.all_passed else 1


async def _against_sandbox(location: str, settings: Settings, database: DatabaseOpener) -> Report:
    from app.integrations.quickbooks.contract import ALL_CHECKS
    from app.services.verify_qbo import run_on_sandbox
    from app.wiring import build_services

    async with database() as db, build_services(settings, db.factory) as services:
        return await run_on_sandbox(
            settings, db.factory, services.tokens, services.http, location, ALL_CHECKS
        )


def _against_emulator() -> Report:
    with running_emulator() as url:
        return asyncio.run(run_on_emulator(url))


async def run_on_emulator(url: str) -> Report:
    from app.integrations.http import build_http_client
    from app.integrations.quickbooks.contract import (
        ALL_CHECKS,
        EmulatorTarget,
        new_run_id,
        run_checks,
    )

    async with build_http_client() as http:
        return await run_checks(EmulatorTarget(http, url), ALL_CHECKS, new_run_id())


@contextmanager
def running_emulator() -> Iterator[str]:
    """A fresh emulator on a free 127.0.0.1 port, in a thread of its own; yields its URL."""
    import uvicorn

    from qbo_emulator.app import create_app
    from qbo_emulator.config import EmulatorConfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    app = create_app(EmulatorConfig(base_url=url))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + EMULATOR_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AppError(f"the emulator did not start on port {port}")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=EMULATOR_START_TIMEOUT_S)


def _cell(text: str) -> str:
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def print_report(report: Report) -> None:
    from app.integrations.quickbooks.contract import Verdict

    where = report.realm_id or "a fresh company per check"
    _out(f"verify-qbo against the {report.target} ({where}), run {report.run_id}")
    headers = ["CHECK", "EXPECTED", "OBSERVED", "VERDICT"]
    rows = [[c.name, _cell(c.expected), _cell(c.observed), c.verdict.value] for c in report.checks]
    rows = [[terminal_safe(cell) for cell in row] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    for line in (headers, ["-" * width for width in widths], *rows):
        _out("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    for check in report.checks:
        if check.verdict is not Verdict.PASS:
            _out()
            _out(f"{check.name}: {check.verdict.value}")
            _out(f"  sends:    {check.sends}")
            _out(f"  expected: {check.expected}")
            _out(f"  observed: {check.observed}")
            _out(f"  source:   {check.source}")
    summary = report.summary()
    _out()
    _out(
        ", ".join(f"{count} {name}" for name, count in summary.items() if count or name == "total")
    )
    left = [
        e
        for e in report.cleanup
        if not str(e.get("action", "")).startswith(("made", "void", "deleted", "already"))
    ]
    if left:
        _out(f"Cleanup left {len(left)} object(s) as they were: see the report's 'cleanup'.")
