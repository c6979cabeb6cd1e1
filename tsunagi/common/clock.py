"""The one clock: Japan time everywhere, settable in tests (and shifted for a daemon by TSUNAGI_CLOCK_SHIFT)."""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")

# A test moves time instead of editing rows: set_shift() in-process, TSUNAGI_CLOCK_SHIFT=<seconds> for a child.
_shift = timedelta(seconds=float(os.environ.get("TSUNAGI_CLOCK_SHIFT", "0") or 0))


def now() -> datetime:
    """The current time in JST, aware."""
    return datetime.now(JST) + _shift


def at(epoch: float) -> datetime:
    """The clock's time (JST, shifted as now() is) of a moment time.time() gave: log records carry those."""
    return datetime.fromtimestamp(epoch, JST) + _shift


def timestamp() -> str:
    """The current time as stored: ISO 8601 with the +09:00 offset, to the microsecond."""
    return now().isoformat(timespec="microseconds")


def today() -> date:
    return now().date()


def file_stamp() -> str:
    """A sortable stamp for file names: 20261130T101502_123456 (JST)."""
    return now().strftime("%Y%m%dT%H%M%S_%f")


def set_shift(delta: timedelta) -> None:
    """Move this process's clock by delta from the real time (tests only)."""
    global _shift
    _shift = delta


def shift() -> timedelta:
    return _shift
