"""Command line: `qbo-sync highlevel-emulator --port 8400 ...` or `python -m highlevel_emulator`."""

from __future__ import annotations

import argparse
import logging
import sys

import structlog
import uvicorn

from highlevel_emulator.app import create_app
from highlevel_emulator.config import HighLevelEmulatorConfig

DEFAULTS = HighLevelEmulatorConfig()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="highlevel-emulator", description="HighLevel stand-in")
    p.add_argument("--port", type=int, default=8400)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--base-url", help="public base URL if not http://HOST:PORT")
    p.add_argument("--webhook-url", help="the app's default webhook URL")
    p.add_argument("--webhook-drop-rate", type=float, default=0.0)
    p.add_argument("--no-legacy-signature", action="store_true", help="omit X-WH-Signature")
    p.add_argument("--test-mode", action="store_true", help="new locations start in test mode")
    p.add_argument("--auto-consent", action="store_true")
    p.add_argument("--client-id", default=DEFAULTS.client_id)
    p.add_argument("--client-secret", default=DEFAULTS.client_secret)
    p.add_argument("--app-id", default=DEFAULTS.app_id)
    p.add_argument("--redirect-uri", action="append", help="allowed redirect URI (repeatable)")
    p.add_argument("--access-token-ttl", type=int, default=DEFAULTS.access_token_ttl_s)
    p.add_argument("--no-refresh-rotation", action="store_true")
    p.add_argument("--rate-limit-burst", type=int, default=DEFAULTS.rate_limit_burst)
    p.add_argument("--rate-limit-interval-ms", type=int, default=DEFAULTS.rate_limit_interval_ms)
    p.add_argument("--rate-limit-daily", type=int, default=DEFAULTS.rate_limit_daily)
    p.add_argument("--seed", type=int, help="random seed for ids and the drop rate")
    p.add_argument("--log-level", default="info")
    return p


def config_from_args(args: argparse.Namespace) -> HighLevelEmulatorConfig:
    return HighLevelEmulatorConfig(
        base_url=args.base_url or f"http://{args.host}:{args.port}",
        client_id=args.client_id,
        client_secret=args.client_secret,
        app_id=args.app_id,
        redirect_uris=args.redirect_uri,
        auto_consent=args.auto_consent,
        access_token_ttl_s=args.access_token_ttl,
        refresh_rotation=not args.no_refresh_rotation,
        webhook_url=args.webhook_url,
        webhook_drop_rate=args.webhook_drop_rate,
        legacy_signature=not args.no_legacy_signature,
        live_mode=not args.test_mode,
        rate_limit_burst=args.rate_limit_burst,
        rate_limit_interval_ms=args.rate_limit_interval_ms,
        rate_limit_daily=args.rate_limit_daily,
        seed=args.seed,
    )


def _configure_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    _configure_logging(args.log_level)
    app = create_app(config)
    keys = app.state.emulator.keys.public()
    structlog.get_logger("highlevel_emulator").info(
        "highlevel_emulator.started",
        base_url=config.base_url,
        HIGHLEVEL_API_BASE_URL=config.base_url,
        HIGHLEVEL_OAUTH_BASE_URL=config.base_url,
        HIGHLEVEL_CLIENT_ID=config.client_id,
        HIGHLEVEL_CLIENT_SECRET=config.client_secret,
        HIGHLEVEL_WEBHOOK_PUBLIC_KEY=keys["raw_base64"],
        webhook_url=config.webhook_url,
        auto_consent=config.auto_consent,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0
