"""Command line: `qbo-sync emulator --port 8300 ...` or `python -m qbo_emulator ...`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, TextIO

import structlog
import uvicorn

from qbo_emulator.app import create_app
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.guard import DroppedConnection


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qbo-emulator", description="QuickBooks Online emulator")
    p.add_argument("--port", type=int, default=8300)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--base-url", help="public base URL if not http://HOST:PORT")
    p.add_argument("--webhook-url")
    p.add_argument("--verifier-token", default=EmulatorConfig.verifier_token)
    p.add_argument("--webhook-format", choices=["legacy", "cloudevents"], default="legacy")
    p.add_argument("--webhook-drop-rate", type=float, default=0.0)
    p.add_argument("--webhook-batch-window", type=float, default=0.2, help="seconds")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--auto-consent", action="store_true")
    p.add_argument("--client-id", default=EmulatorConfig.client_id)
    p.add_argument("--client-secret", default=EmulatorConfig.client_secret)
    p.add_argument("--redirect-uri", action="append", help="allowed redirect URI (repeatable)")
    p.add_argument("--access-token-ttl", type=int, default=3600, help="seconds")
    p.add_argument("--no-refresh-rotation", action="store_true")
    # Intuit's throttles (qbo_emulator/limits.py names the page); raise them to load-test.
    p.add_argument("--rate-limit-per-minute", type=int, default=500, help="per realm")
    p.add_argument("--rate-limit-per-second", type=int, default=10, help="per realm and app")
    p.add_argument("--max-in-flight", type=int, default=10, help="per realm and app")
    p.add_argument("--batch-per-minute-per-app", type=int, default=40, help="per realm and app")
    p.add_argument("--batch-per-minute-per-realm", type=int, default=120)
    p.add_argument("--throttle-format", choices=["json", "xml"], default="json")
    p.add_argument("--seed", type=int, help="random seed for realm ids, seeding and drop rate")
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--log-format",
        choices=["auto", "json", "console"],
        default=os.environ.get("LOG_FORMAT", "auto"),
        help="auto: coloured lines on a terminal, JSON otherwise (default: $LOG_FORMAT or auto)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        base_url=args.base_url or f"http://{args.host}:{args.port}",
        client_id=args.client_id,
        client_secret=args.client_secret,
        verifier_token=args.verifier_token,
        redirect_uris=args.redirect_uri,
        webhook_url=args.webhook_url,
        webhook_format=args.webhook_format,
        webhook_batch_window_s=args.webhook_batch_window,
        webhook_drop_rate=args.webhook_drop_rate,
        latency_ms=args.latency_ms,
        auto_consent=args.auto_consent,
        access_token_ttl_s=args.access_token_ttl,
        refresh_rotation=not args.no_refresh_rotation,
        rate_limit_per_minute=args.rate_limit_per_minute,
        rate_limit_per_second=args.rate_limit_per_second,
        max_in_flight=args.max_in_flight,
        batch_per_minute_per_app=args.batch_per_minute_per_app,
        batch_per_minute_per_realm=args.batch_per_minute_per_realm,
        throttle_format=args.throttle_format,
        seed=args.seed,
    )


def _not_injected_drop(record: logging.LogRecord) -> bool:
    # The "drop" fault aborts the connection by raising; that is intended, not a crash to log.
    return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def _renderer(log_format: str, stream: TextIO) -> Any:
    """JSON unless a person reads `stream` (a terminal) or `console` is asked for (LOG_FORMAT,
    as the service reads it)."""
    terminal = stream.isatty()
    if log_format == "json" or (log_format != "console" and not terminal):
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=terminal)


def _configure_logging(level: str, log_format: str = "auto", stream: TextIO | None = None) -> None:
    out = sys.stderr if stream is None else stream
    logging.getLogger("uvicorn.error").addFilter(_not_injected_drop)
    logging.basicConfig(stream=out, level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _renderer(log_format, out),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=out),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    _configure_logging(args.log_level, args.log_format)
    structlog.get_logger("qbo_emulator").info(
        "qbo_emulator.started",
        base_url=config.base_url,
        QBO_API_BASE_URL=config.base_url,
        QBO_OAUTH_BASE_URL=config.base_url,
        QBO_CLIENT_ID=config.client_id,
        QBO_CLIENT_SECRET=config.client_secret,
        QBO_WEBHOOK_VERIFIER_TOKEN=config.verifier_token,
        webhook_url=config.webhook_url,
        webhook_format=config.webhook_format,
        auto_consent=config.auto_consent,
    )
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
    )
    return 0
