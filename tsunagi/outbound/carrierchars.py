"""Text for carrier software: JIS X 0208 (level 1-2) only, mapped where a likeness exists, never dropped."""
from __future__ import annotations

import tomllib
import unicodedata
from functools import lru_cache
from pathlib import Path

from tsunagi.common.jcodec import CP932_FIXES

CHARMAP = Path(__file__).parent / "charmap.toml"


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    return tomllib.loads(CHARMAP.read_text(encoding="utf-8"))["map"]


def _jis(ch: str) -> bool:
    """In JIS X 0208 (or plain JIS X 0201): CP932 bytes that plain Shift_JIS also reads."""
    try:
        ch.encode("cp932").decode("shift_jis")
        return True
    except UnicodeError:
        return False


def for_carrier(text: str) -> tuple[str, list[str]]:
    """(text a carrier takes, characters that could not be mapped). The map comes first (①→(1),
    髙→高, 𠮷→吉), then compatibility forms (NFKC: 塚→塚); what is left is reported, not dropped."""
    try:
        text.encode("cp932").decode("shift_jis")      # the usual case, all at once
        return text, []
    except UnicodeError:
        text = text.translate(CP932_FIXES)
    table = _table()
    out, bad = [], []
    for ch in text:
        if _jis(ch):
            out.append(ch)
            continue
        mapped = table.get(ch)
        if mapped is None:
            norm = unicodedata.normalize("NFKC", ch)
            mapped = norm if norm != ch and all(_jis(c) for c in norm) else None
        if mapped is None:
            bad.append(ch)
            out.append(ch)
        else:
            out.append(mapped)
    return "".join(out), bad
