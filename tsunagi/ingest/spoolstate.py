"""The spool as `tsunagi status` sees it, read without changing anything: waiting, quarantined, outbox."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from tsunagi.ingest.spool import Spool, ids_in


def waiting(root: Path) -> tuple[list[str], int]:
    """Ids waiting in new/ (oldest first) and the number claimed in cur/ (being applied now)."""
    return ids_in(root / "new"), len(ids_in(root / "cur"))


def quarantined(root: Path) -> list[dict]:
    """The reason of every item in failed/ (kind, failed_at, …), oldest first."""
    return Spool(root).failed() if (root / "failed").is_dir() else []


def by_kind(reasons: list[dict]) -> dict[str, int]:
    """How many quarantined items of each kind, by kind name."""
    return dict(sorted(Counter(str(r.get("kind", "?")) for r in reasons).items()))


def shown(kinds: dict[str, int]) -> str:
    """by_kind as an operator reads it: "encoding: 2, poison: 1"."""
    return ", ".join(f"{k}: {n}" for k, n in kinds.items())


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
