"""`qbo-sync`: serve, worker, migrate, operator commands (connections, sync-log, retry), demo."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from app.config import Settings, SettingsError, prepare_settings
from app.ids import cli_count
from app.logging import configure_logging, get_logger
from app.terminal import terminal_safe

if TYPE_CHECKING:
    from app.db.session import SessionFactory

log = get_logger("app.cli")


def _exit_on_sigterm() -> None:
    # Without a handler SIGTERM skips atexit, and an embedded PostgreSQL would outlive us.
    def handler(signum: int, _frame: FrameType | None) -> None:
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    generated = prepare_settings(settings)
    if generated:
        log.info(
            "config.secrets.generated",
            names=generated,
            path=str((settings.data_dir / "secrets.json").resolve()),
        )
    return settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.api.server import server_config, settle_heap
    from app.main import ProcessExit, create_app

    settings = _settings()
    process_exit = ProcessExit()
    app = create_app(settings, run_worker=not args.no_worker, process_exit=process_exit)
    host = args.host or settings.host
    port = args.port or settings.port
    log.info("service.starting", url=f"http://{host}:{port}", worker=not args.no_worker)
    server = uvicorn.Server(server_config(app, settings, host=host, port=port))

    def stop() -> None:
        server.should_exit = True

    process_exit.request_stop = stop
    settle_heap()
    server.run()
    if process_exit.code:
        log.error("service.exited", code=process_exit.code, reason=process_exit.reason)
    return process_exit.code


def _worker(_: argparse.Namespace) -> int:
    from app.jobs.standalone import run_worker

    return asyncio.run(run_worker(_settings()))


def _migrate(_: argparse.Namespace) -> int:
    from app.db import migrate
    from app.db.provision import open_database

    settings = _settings()
    database = open_database(settings)
    try:
        migrate.upgrade(database.url)
        log.info("db.migrated", revision="head")
    finally:
        database.close()
    return 0


def _out(line: str = "") -> None:
    # Names, reasons and errors come from QuickBooks and the CRM: no escape sequence reaches the
    # operator's terminal (app/terminal.py).
    print(terminal_safe(line))  # noqa: T201 - the operator commands' output is for people


def _fail(message: str) -> int:
    print(f"error: {terminal_safe(message)}", file=sys.stderr)  # noqa: T201 - for the operator
    return 1


@dataclass(frozen=True)
class _Db:
    url: str
    factory: SessionFactory


@asynccontextmanager
async def _database() -> AsyncIterator[_Db]:
    """DATABASE_URL, or the embedded database, found the way `migrate` finds it."""
    from app.db.provision import open_database
    from app.db.session import create_engine, create_session_factory

    database = await asyncio.to_thread(open_database, _settings())
    engine = create_engine(database.url)
    try:
        yield _Db(database.url, create_session_factory(engine))
    finally:
        await engine.dispose()
        await asyncio.to_thread(database.close)


DbCommand = Callable[[_Db, argparse.Namespace], Coroutine[Any, Any, int]]


def _run_db(command: DbCommand, args: argparse.Namespace) -> int:
    from app.errors import AppError

    async def run() -> int:
        async with _database() as db:
            return await command(db, args)

    try:
        return asyncio.run(run())
    except AppError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot reach the database ({exc})")
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "psycopg")):
            return _fail(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        raise


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value is not None else "never"


def _table(headers: list[str], rows: list[list[str]]) -> None:
    # Made safe before measuring, so a name with escapes keeps the columns aligned.
    rows = [[terminal_safe(str(cell)) for cell in row] for row in rows]
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    for line in (headers, ["-" * width for width in widths], *rows):
        _out("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


async def _connections(db: _Db, _args: argparse.Namespace) -> int:
    from app.db.session import session_scope
    from app.repositories import connections

    async with session_scope(db.factory) as session:
        overview = await connections.overview(session)
    if not overview:
        _out("No connections yet. A CRM location connects with POST /v1/connections.")
        return 0
    rows = [
        [
            item.connection.location_id,
            item.connection.realm_id or "-",
            item.connection.status.value,
            item.connection.company_name or "-",
            item.connection.import_state or "-",
            str(item.failed),
            _when(item.last_sync),
        ]
        for item in overview
    ]
    headers = ["LOCATION", "REALM", "STATUS", "COMPANY", "IMPORT", "FAILED", "LAST SYNC"]
    _table(headers, rows)
    return 0


def _no_location(location_id: str) -> int:
    return _fail(f"no connection for location {location_id!r}")


async def _sync_log(db: _Db, args: argparse.Namespace) -> int:
    from app.db.session import session_scope
    from app.models.states import SyncState
    from app.services.locations import UnknownLocationError
    from app.sync import sync_log

    state = SyncState.FAILED if args.failed else None
    try:
        async with session_scope(db.factory) as session:
            entries = await sync_log.entries(session, args.location, state=state, limit=args.limit)
    except UnknownLocationError:
        return _no_location(args.location)
    if not entries:
        _out(f"No {'failed ' if args.failed else ''}sync-log entries for {args.location}.")
        return 0
    for entry in entries:
        record = f"{entry.kind} {entry.crm_id or '-'} -> QBO {entry.qbo_id or '-'}"
        _out(f"#{entry.id}  {_when(entry.created_at)}  {entry.state.value:<7}  {record}")
        if entry.message:
            _out(f"    {entry.message}")
        if entry.action:
            _out(f"    what to do: {entry.action}")
    return 0


async def _retry(db: _Db, args: argparse.Namespace) -> int:
    from app.config import WorkerSettings
    from app.db.session import session_scope
    from app.jobs.app import build_job_app
    from app.services.locations import UnknownLocationError
    from app.sync.connections.retry import retry_all_failed

    if not args.failed:
        return _fail("say what to retry: --failed (each record whose newest entry failed)")
    # Never opened: it only names the task; each job goes in on the session's connection.
    job_app = build_job_app(db.url, WorkerSettings())
    try:
        async with session_scope(db.factory) as session:
            queued = await retry_all_failed(session, job_app, args.location)
    except UnknownLocationError:
        return _no_location(args.location)
    if not queued:
        _out(f"No failed entries to retry for {args.location}.")
        return 0
    for item in queued:
        _out(f"queued sync-log entry #{item.entry_id} (re-runs CRM event {item.event_id})")
    _out(f"{len(queued)} retr{'y' if len(queued) == 1 else 'ies'} queued; a worker runs them.")
    return 0


def _since(value: str) -> datetime:
    """--since: an ISO 8601 date or time; without a zone it is UTC."""
    from app.services.callback_resend import as_utc

    try:
        moment = as_utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    assert moment is not None
    return moment


async def _callbacks_list(db: _Db, args: argparse.Namespace) -> int:
    from app.db.session import session_scope
    from app.models.states import CallbackState
    from app.services.callback_resend import list_callbacks

    state = CallbackState.FAILED if args.failed else None
    async with session_scope(db.factory) as session:
        found = await list_callbacks(
            session, args.location, state=state, since=args.since, limit=args.limit
        )
    if not found:
        _out(f"No {'failed ' if args.failed else ''}callbacks for {args.location}.")
        return 0
    for callback in found:
        attempts = f"{callback.attempts} attempt{'s' if callback.attempts != 1 else ''}"
        _out(
            f"{callback.id}  {_when(callback.created_at)}  {callback.state.value:<9}  "
            f"{callback.type}  {attempts}"
        )
        if callback.last_error:
            _out(f"    {callback.last_error}")
    if args.failed:
        _out(f"Send them again: qbo-sync callbacks resend --location {args.location}")
    return 0


async def _callbacks_resend(db: _Db, args: argparse.Namespace) -> int:
    from app.config import WorkerSettings
    from app.db.session import session_scope
    from app.jobs.app import build_job_app
    from app.services.callback_resend import resend_failed

    async with session_scope(db.factory) as session:
        # Never opened: it only names the task; the wake-up goes in on this session's connection.
        job_app = build_job_app(db.url, WorkerSettings())
        ids = await resend_failed(session, job_app, args.location, since=args.since)
    if not ids:
        _out(f"No failed callbacks to resend for {args.location}.")
        return 0
    _out(
        f"{len(ids)} failed callback{'s' if len(ids) != 1 else ''} due again; the deliverer "
        "sends them now."
    )
    return 0


def _callbacks_parser(commands: Any) -> None:
    group = commands.add_parser("callbacks", help="callbacks owed to the CRM: list, resend")
    actions = group.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="a location's callbacks, newest first")
    listing.add_argument("--location", required=True, help="the CRM location id")
    listing.add_argument("--failed", action="store_true", help="only failed callbacks")
    listing.add_argument("--since", type=_since, default=None, help="written at or after (ISO)")
    listing.add_argument("--limit", type=int, default=50, help="callbacks to show (default 50)")
    listing.set_defaults(func=lambda args: _run_db(_callbacks_list, args))
    resend = actions.add_parser("resend", help="send a location's failed callbacks again")
    resend.add_argument("--location", required=True, help="the CRM location id")
    resend.add_argument("--since", type=_since, default=None, help="written at or after (ISO)")
    resend.set_defaults(func=lambda args: _run_db(_callbacks_resend, args))


async def _purge(db: _Db, args: argparse.Namespace) -> int:
    from datetime import UTC

    from app.config import RetentionSettings
    from app.sync import retention

    settings, now = RetentionSettings(), datetime.now(UTC)
    if args.dry_run:
        reports = await retention.preview(db.factory, settings, now)
    else:
        reports = await retention.purge(db.factory, settings, now)
    rows = [
        [r.table, str(r.rows), *((_when(r.oldest), _when(r.newest)) if r.rows else ("-", "-"))]
        for r in reports
    ]
    verb = "WOULD DELETE" if args.dry_run else "DELETED"
    _table(["TABLE", verb, "OLDEST", "NEWEST"], rows)
    total = sum(r.rows for r in reports)
    _out(f"{'Dry run: nothing deleted; ' if args.dry_run else ''}{total} rows in all.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.crm == "highlevel":
        from app.demo.highlevel import run_highlevel_demo

        return run_highlevel_demo(data_dir=args.data_dir, keep_running=args.keep_running)
    from app.demo.run import run_demo

    return run_demo(data_dir=args.data_dir, keep_running=args.keep_running)


def _secret(args: argparse.Namespace) -> int:
    settings = _settings()
    values = {
        "CRM_SIGNING_SECRET": settings.crm.signing_secret,
        "CRM_API_KEY": settings.crm.api_key,
        "QBO_WEBHOOK_VERIFIER_TOKEN": settings.qbo.webhook_verifier_token,
    }
    value = values[args.name]
    if value is None:
        log.error("config.secret.missing", name=args.name)
        return 1
    print(value.get_secret_value())  # noqa: T201 - the command's whole purpose
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qbo-sync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (and a job worker unless --no-worker)")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument("--no-worker", action="store_true", help="API only; run workers apart")
    serve.set_defaults(func=_serve)

    commands.add_parser("worker", help="run a job worker alone").set_defaults(func=_worker)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)

    commands.add_parser("connections", help="list every connection with its health").set_defaults(
        func=lambda args: _run_db(_connections, args)
    )
    sync_log = commands.add_parser("sync-log", help="show a location's sync log, newest first")
    sync_log.add_argument("--location", required=True, help="the CRM location id")
    sync_log.add_argument("--failed", action="store_true", help="only failed entries")
    sync_log.add_argument(
        "--limit", type=cli_count, default=50, help="entries to show (default 50)"
    )
    sync_log.set_defaults(func=lambda args: _run_db(_sync_log, args))
    retry = commands.add_parser(
        "retry", help="re-queue a location's failed records (as the card's Retry all)"
    )
    retry.add_argument("--location", required=True, help="the CRM location id")
    retry.add_argument(
        "--failed",
        action="store_true",
        help="each record whose newest sync-log entry failed, once (required)",
    )
    retry.set_defaults(func=lambda args: _run_db(_retry, args))
    _callbacks_parser(commands)
    from app.verify_cli import add_parser as add_verify_parser

    add_verify_parser(commands, settings=_settings, database=_database)
    from app.doctor_cli import add_parser as add_doctor_parser

    add_doctor_parser(commands, settings=_settings, database=_database)
    from app.reconcile_cli import add_parser as add_reconcile_parser

    add_reconcile_parser(commands, settings=_settings, database=_database)
    purge = commands.add_parser(
        "purge", help="delete finished records past their retention (QBS_RETENTION_*)"
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would go; delete none")
    purge.set_defaults(func=lambda args: _run_db(_purge, args))

    demo = commands.add_parser(
        "demo", help="run everything locally (database, emulator, service, CRM) and sync examples"
    )
    demo.add_argument(
        "--data-dir", default=None, help="keep the demo database here (default: a temp dir)"
    )
    demo.add_argument("--keep-running", action="store_true", help="stay up until Ctrl-C")
    demo.add_argument(
        "--crm",
        choices=("generic", "highlevel"),
        default="generic",
        help="the CRM side: the generic stand-in CRM, or HighLevel (its stand-in)",
    )
    demo.set_defaults(func=_demo)

    commands.add_parser(
        "emulator", help="run the QBO emulator (see `qbo-sync emulator --help`)", add_help=False
    )
    commands.add_parser(
        "highlevel-emulator",
        help="run the HighLevel stand-in (see `qbo-sync highlevel-emulator --help`)",
        add_help=False,
    )

    secret = commands.add_parser(
        "secret", help="print a development secret (generated into the data directory)"
    )
    secret.add_argument(
        "name", choices=["CRM_SIGNING_SECRET", "CRM_API_KEY", "QBO_WEBHOOK_VERIFIER_TOKEN"]
    )
    secret.set_defaults(func=_secret)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    _exit_on_sigterm()
    if args_list[:1] == ["emulator"]:
        from qbo_emulator.cli import main as emulator_main

        return emulator_main(args_list[1:])
    if args_list[:1] == ["highlevel-emulator"]:
        from highlevel_emulator.cli import main as highlevel_emulator_main

        return highlevel_emulator_main(args_list[1:])
    args = _parser().parse_args(args_list)
    try:
        result: int = args.func(args)
    except SettingsError as exc:
        log.error("config.invalid", message=str(exc))
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
