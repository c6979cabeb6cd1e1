"""The body of a mail as a spec reads it: folded text in bytes, with offsets back to lines and to the mail's own
characters, each section and search found once; and what both the fields and the items read their matches with."""
from __future__ import annotations

import bisect
import re

from tsunagi.common import japanese as jp
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailspec import MailSpec, Section


class Body:
    """The body as the spec sees it: full-width ASCII folded, as UTF-8 bytes (RE2 reads bytes three times
    faster than str), with a way back to line numbers and to the mail's own characters (the folding maps
    one character to one, so character offsets are the same in both)."""

    def __init__(self, text: str):
        self.raw = text
        self.text = jp.half_width(text)
        self.data = self.text.encode("utf-8", "surrogatepass")
        self._ascii = len(self.data) == len(self.text)
        self._last = (0, 0)
        self._breaks: list[int] | None = None
        self._sections: dict[tuple, tuple[bytes, int]] = {}
        self._found: dict[tuple, object] = {}     # (pattern, where) -> what it found: several specs, one search

    def chars(self, offset: int) -> int:
        """A byte offset as a character offset; counted on from the last one asked (items are read in
        order), so a mail of many items stays linear."""
        if self._ascii:
            return offset
        last_byte, last_char = self._last if offset >= self._last[0] else (0, 0)
        char = last_char + len(self.data[last_byte:offset].decode("utf-8", "surrogatepass"))
        self._last = (offset, char)
        return char

    def own(self, base: int, span: tuple[int, int]) -> str:
        """A value as the mail wrote it: free text keeps its ，, Ａ and １ (only codes, numbers, postcodes
        and phones are folded)."""
        start, end = span
        return self.raw[self.chars(base + start):self.chars(base + end)] if start >= 0 else ""

    def line_of(self, offset: int) -> int:
        if self._breaks is None:        # found once, so many look-ups stay linear in the text's length
            self._breaks = [m.start() for m in re.finditer(b"\n", self.data)]
        return bisect.bisect_left(self._breaks, offset) + 1

    def section(self, spec: MailSpec, name: str | None) -> tuple[bytes, int]:
        """(bytes, offset) of a section, or of the whole body when name is None; each found once a mail."""
        if not name:
            return self.data, 0
        sec = spec.sections[name]
        key = (sec.start.pattern, sec.end.pattern if sec.end else "")
        if key not in self._sections:
            self._sections[key] = self._find_section(sec)
        return self._sections[key]

    def search(self, regex, text: bytes, base: int):
        """regex.search(text), once a mail for each pattern and place (a replay parses with two specs)."""
        key = (regex.pattern, base, len(text))
        if key not in self._found:
            self._found[key] = regex.search(text)
        return self._found[key]

    def remember(self, key: tuple, make):
        """make()'s result, once a mail for each key."""
        if key not in self._found:
            self._found[key] = make()
        return self._found[key]

    def _find_section(self, sec: Section) -> tuple[bytes, int]:
        data = self.data
        m = sec.start.search(data)
        if not m:
            return b"", 0
        begin = data.rfind(b"\n", 0, m.start()) + 1
        end = len(data)
        if sec.end:
            after = data.find(b"\n", m.end())
            e = sec.end.search(data, after + 1) if after >= 0 else None
            if e:
                end = e.start()
        return data[begin:end], begin


def convert(value: str, kind: str, name: str, line: int):
    """A field's text as its kind (amount, int, datetime, date; else the cleaned text); a ParseError naming the
    field and the line where it does not read so."""
    value = jp.clean_text(value)
    try:
        if kind == "amount":
            return jp.parse_amount(value)
        if kind == "int":
            return jp.parse_int(value)
        if kind == "datetime":
            return jp.parse_datetime(value)
        if kind == "date":
            return jp.parse_date(value)
    except jp.ValueProblem as exc:
        raise ParseError(str(exc), field=name, line=line) from None
    return value


_SHAPES: dict[str, tuple[dict, int]] = {}


def shape(regex) -> tuple[dict, int]:
    """(named groups, number of groups) of a pattern, asked of RE2 once (its wrapper builds them each time)."""
    found = _SHAPES.get(regex.pattern)
    if found is None:
        found = _SHAPES[regex.pattern] = (dict(regex.groupindex), regex.groups)
    return found


def group_number(m: re.Match, name: str) -> int:
    """The group a field's pattern captures it in: its named group, else the first group, else the match."""
    names, groups = shape(m.re)
    return names[name] if name in names else (1 if groups else 0)


def text_of(value: bytes | None) -> str | None:
    """A group's bytes as text (None for a group that took no part in the match)."""
    return value.decode("utf-8", "surrogatepass") if value is not None else None
