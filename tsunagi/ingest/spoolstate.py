"""The spool as `tsunagi status` sees it, read without changing anything: waiting, quarantined, outbox."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tsunagi.common.clock import JST
from tsunagi.ingest.spool import Spool


def item_time(item_id: str) -> datetime | None:
    """When an item was spooled, read off its id (ids are the JST time they were made: 20261122T140501.123456-…)."""
    try:
        return datetime.strptime(item_id.split("-", 1)[0], "%Y%m%dT%H%M%S.%f").replace(tzinfo=JST)
    except ValueError:
        return None


def _ids(folder: Path) -> list[str]:
    return sorted(p.name[:-10] for p in folder.glob("*.meta.json")) if folder.is_dir() else []


def waiting(root: Path) -> tuple[list[str], int]:
    """Ids waiting in new/ (oldest first) and the number claimed in cur/ (being applied now)."""
    return _ids(root / "new"), len(_ids(root / "cur"))


def quarantined(root: Path) -> list[dict]:
    """The reason of every item in failed/ (kind, failed_at, …), oldest first."""
    return Spool(root).failed() if (root / "failed").is_dir() else []


def outbox_ready(root: Path) -> dict[str, int | None]:
    """Files waiting in outbox/<target>/ready/ per target (to be pushed or fetched), every target named."""
    outbox = root / "outbox"
    if not outbox.is_dir():
        return {}
    return {target.name: _files(target / "ready") for target in sorted(outbox.iterdir()) if (target / "ready").is_dir()}


def _files(folder: Path) -> int | None:
    """Files in a folder (not dot files); None when it cannot be read."""
    try:
        return sum(1 for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    except OSError:
        return None
