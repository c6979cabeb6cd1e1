"""Text from outside made safe to show on a terminal or in a mail: control characters escaped, length bounded."""
from __future__ import annotations

import unicodedata

LIMIT = 300      # characters shown of one value; the rest is cut with …
HIDDEN = ("Cc", "Cs", "Cn", "Co")     # control, surrogate, unassigned, private use


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:      # a byte that was not valid in its encoding (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, limit: int = LIMIT) -> str:
    """text on one line, every control, unassigned or private character (and any lone surrogate) written as
    an escape: nothing read from a file can move a cursor, forge a line or reach a terminal as raw bytes."""
    shown = "".join(ch if unicodedata.category(ch) not in HIDDEN else _escape(ch) for ch in str(text))
    return shown if len(shown) <= limit else shown[:limit] + "…"


def looks_like_text(text: str) -> bool:
    """Whether a value read from a file is text a person can read (no control characters but tab and line
    ends, no U+FFFD left by a lenient decoder)."""
    return not any(ch not in "\t\r\n" and unicodedata.category(ch) in HIDDEN or ch == "\ufffd"
                   for ch in text)
