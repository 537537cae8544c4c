"""Text from outside (a QBO company name, a CRM contact, a QBO error) made safe for a terminal.

A name like ``"\\x1b]0;pwned\\x07Ann\\x1b[2J"`` would retitle or clear the operator's terminal, hide
lines, or forge a line of output if printed as is. Escape sequences are removed whole (so no
``[31m`` remains); any other control character is shown as a visible escape (``\\x07``, ``\\n``,
``\\u202e``), so a tampered value is seen as tampered rather than silently altered.
"""

from __future__ import annotations

import re
import unicodedata

# ESC-introduced sequences: CSI (ESC [ ... final byte), OSC/DCS/SOS/PM/APC strings (ended by BEL
# or ST), and two-character escapes. Their C1 single-byte forms (CSI U+009B, OSC U+009D) too.
_ESCAPE_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                 # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)  # strings up to BEL/ST
    | \x1b[ -/]*[0-~]?                                # other ESC sequences
    """,
    re.VERBOSE | re.DOTALL,
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(char: str) -> str:
    # Cc: C0, DEL and C1 controls; Cf: invisible format characters, bidi overrides among them.
    if unicodedata.category(char) not in {"Cc", "Cf"}:
        return char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """The text without escape sequences and with every other control character made visible."""
    if text.isprintable():
        return text
    return "".join(_visible(char) for char in _ESCAPE_SEQUENCE.sub("", text))
