"""Ids typed by people, forms and paths: ASCII digits only, within a BIGINT column.

Python's int() and str.isdigit() accept any Unicode digit ("١٢٣", "²", full-width digits), and
pydantic's int accepts " 5", "+5" and "5_000": none of those is an id we ever printed.
"""

from __future__ import annotations

import argparse
import re
from typing import Annotated

from annotated_types import Interval
from pydantic import BeforeValidator

BIGINT_MAX = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")  # [0-9], unlike \d, is ASCII only


def parse_row_id(text: str) -> int | None:
    """The id, or None when the text is not 1..BIGINT_MAX written in ASCII digits."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= BIGINT_MAX else None


def _ascii_digits(value: object) -> object:
    if isinstance(value, str) and not _ASCII_DIGITS.fullmatch(value):
        raise ValueError("must be written in ASCII digits 0-9 only")
    return value


# A path or query parameter holding a row id (sync-log entries, ...).
RowId = Annotated[int, Interval(ge=1, le=BIGINT_MAX), BeforeValidator(_ascii_digits)]


def cli_count(text: str) -> int:
    """argparse type for positive whole numbers typed at a terminal."""
    value = parse_row_id(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number (digits 0-9)")
    return value
