"""Text refused at the edge, never sent on.

PostgreSQL cannot store a NUL character or a lone UTF-16 surrogate (a JSON escape like \\ud800
with no partner, which has no UTF-8 form). QuickBooks cannot take control characters: its query
language refuses them in literals (app/integrations/quickbooks/query.py refuses the same set, so an
email or a line name that passed intake can always be looked up), and its XML-based store refuses
the C0 controls in any text. Tab, newline and carriage return stay allowed in free text: names turn
them into spaces before they reach QuickBooks (app/sync/mapping/customer.py, app/sync/items.py).
"""

from __future__ import annotations

import re
from typing import Any

# What QBO's query literals refuse: every C0 control and DEL. For text that is looked up by value.
LITERAL_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# Free text: the same, except tab, newline and carriage return.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
CONTROL_MESSAGE = "must not contain control characters; QuickBooks cannot take them"
_LITERAL_REFUSED = re.compile(r"[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    """True when `text` holds a character QBO's query literals refuse."""
    return _LITERAL_REFUSED.search(text) is not None


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
