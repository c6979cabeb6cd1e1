"""When an endpoint runs next: every N minutes, or at fixed times of day (JST)."""
from __future__ import annotations

from datetime import datetime, timedelta

from tsunagi.common.clock import JST


def next_run(after: datetime, every_minutes: float, at: list[str]) -> datetime | None:
    """The first run time after `after`; None for an endpoint that only runs when asked."""
    candidates = []
    if every_minutes > 0:
        candidates.append(after + timedelta(minutes=every_minutes))
    local = after.astimezone(JST)
    for text in at:
        hour, minute = (int(x) for x in text.split(":"))
        when = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if when <= local:
            when += timedelta(days=1)
        candidates.append(when)
    return min(candidates) if candidates else None
