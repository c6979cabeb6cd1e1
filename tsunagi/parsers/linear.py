"""Patterns that run in linear time (RE2): no mail, however long or strange, can stall a match."""
from __future__ import annotations

import re

import re2

# What RE2 cannot do is what makes a backtracking engine slow: said plainly instead of RE2's own words.
_UNSUPPORTED = ((re.compile(r"\(\?<?[=!]"), "a lookahead or lookbehind ((?=, (?!, (?<=, (?<!)"),
                (re.compile(r"\\[1-9]|\(\?P="), "a back-reference (\\1, (?P=name))"),
                (re.compile(r"\(\?>"), "an atomic group ((?>…))"))


class SlowPattern(ValueError):
    """A pattern that cannot be matched in linear time, or does not compile; the message says why."""


def compile(pattern: str, ignorecase: bool = False):
    """Compile for multi-line text (^ and $ at each line); raises SlowPattern naming what to rewrite."""
    for finder, what in _UNSUPPORTED:
        if finder.search(pattern):
            raise SlowPattern(f"uses {what}, which cannot be matched in linear time: rewrite it without")
    try:
        return re2.compile(("(?mi)" if ignorecase else "(?m)") + pattern)
    except re2.error as exc:
        raise SlowPattern(f"not a valid pattern: {exc}") from None
