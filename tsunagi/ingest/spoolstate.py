"""The spool as `tsunagi status` sees it, read without changing anything: waiting, quarantined, outbox."""
from __future__ import annotations

from pathlib import Path

from tsunagi.ingest.spool import Spool, ids_in


def waiting(root: Path) -> tuple[list[str], int]:
    """Ids waiting in new/ (oldest first) and the number claimed in cur/ (being applied now)."""
    return ids_in(root / "new"), len(ids_in(root / "cur"))


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
