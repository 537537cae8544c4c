"""Jinja2 for the card: templates ship inside the package, every value is HTML-escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


def when(value: datetime | None) -> str:
    """One unambiguous format for every time on the card (the reader may be anywhere)."""
    if value is None:
        return "not yet"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percent(done: int, total: int | None) -> int:
    if not total:
        return 0
    return min(100, round(100 * done / total))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.globals["percent"] = percent
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
