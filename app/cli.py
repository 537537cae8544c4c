"""`qbo-sync`: serve | worker | migrate | emulator | secret."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from app.config import Settings, SettingsError, prepare_settings
from app.logging import configure_logging, get_logger

log = get_logger("app.cli")


def _exit_on_sigterm() -> None:
    # Without a handler SIGTERM skips atexit, and an embedded PostgreSQL would outlive us.
    def handler(signum: int, _frame: FrameType | None) -> None:
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level)
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

    from app.main import create_app

    settings = _settings()
    app = create_app(settings, run_worker=not args.no_worker)
    host = args.host or settings.host
    port = args.port or settings.port
    log.info("service.starting", url=f"http://{host}:{port}", worker=not args.no_worker)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )
    return 0


def _worker(_: argparse.Namespace) -> int:
    from app.jobs.standalone import run_worker

    asyncio.run(run_worker(_settings()))
    return 0


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

    commands.add_parser(
        "emulator", help="run the QBO emulator (see `qbo-sync emulator --help`)", add_help=False
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
    args = _parser().parse_args(args_list)
    try:
        result: int = args.func(args)
    except SettingsError as exc:
        log.error("config.invalid", message=str(exc))
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
