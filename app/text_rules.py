"""Text PostgreSQL cannot store is refused at the edge, never sent to it: a NUL character, or a
lone UTF-16 surrogate (a JSON escape like \\ud800 with no partner), which has no UTF-8 form."""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def unstorable(text: str) -> bool:
    if NUL in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) PostgreSQL cannot store, or None."""
    if isinstance(value, str):
        return path if unstorable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and unstorable(key):
                return here
            found = nul_path(item, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None
