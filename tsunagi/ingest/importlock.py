"""Foreground imports' locks: a live `tsunagi import` holds one; a dead one's item waits for the next run.

An import whose process died stays in cur/ until the command's next run finishes or abandons it: the
daemon never replays it behind newer files."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tsunagi.ingest.spool import Item, Spool

SOURCE = "import"          # the meta source of an item `tsunagi import` made
STALE_LOCK_SECONDS = 60    # a lock file with no item, unheld this long, was left by a kill before spooling


def owned_by_command(meta: dict) -> bool:
    """An item only the importing command (or its next run) applies."""
    return meta.get("source") == SOURCE


class ImportLock:
    """spool/imports/<id>.lock, flock'd: the kernel lets go when the process ends, even on SIGKILL."""

    def __init__(self, path: Path, fh):
        self.path, self.fh = path, fh

    @classmethod
    def take(cls, folder: Path, item_id: str, wait: bool = False) -> ImportLock | None:
        """The import's lock, now held here; None while another process (or open file) holds it.
        wait: a new import's own lock, which someone looking whether it lives may hold for a moment."""
        fh = _locked(folder / f"{item_id}.lock", wait)
        if fh is None:
            return None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        return cls(folder / f"{item_id}.lock", fh)

    def release(self) -> None:
        """The import ended (its item filed, or left for the next run): the file goes, then the lock."""
        self.path.unlink(missing_ok=True)
        self.fh.close()


def _locked(path: Path, wait: bool = False):
    """The lock file open and flock'd here; None if another holder has it (and wait is False)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def held(folder: Path, item_id: str) -> bool:
    """Whether a live process holds this import's lock (a lock file nobody holds is a dead import's)."""
    if not (folder / f"{item_id}.lock").exists():
        return False
    fh = _locked(folder / f"{item_id}.lock")
    if fh is None:
        return True
    fh.close()          # only looked: the file stays for whoever finishes the item
    return False


def sweep(folder: Path, in_cur: set[str]) -> None:
    """Remove lock files no process holds and no item needs (killed while the file was still being copied)."""
    if not folder.is_dir():
        return
    cutoff = time.time() - STALE_LOCK_SECONDS
    for path in folder.glob("*.lock"):
        item_id = path.name[:-5]
        try:
            old = path.stat().st_mtime < cutoff    # young: its process may be between creating and locking it
        except FileNotFoundError:
            continue
        if old and item_id not in in_cur and not held(folder, item_id):
            path.unlink(missing_ok=True)


def left_over(spool: Spool) -> list[Item]:
    """Imports in cur/ whose process is gone (only looked at: nothing is taken)."""
    folder = spool.dir("imports")
    return [item for item in _in_cur(spool) if not held(folder, item.id)]


def _in_cur(spool: Spool) -> list[Item]:
    """The command's imports in cur/, oldest first."""
    out = []
    for meta in sorted(spool.dir("cur").glob("*.meta.json")):
        try:
            item = spool.load("cur", meta.name[:-10])
        except (FileNotFoundError, ValueError):
            continue         # filed meanwhile, or its meta half-renamed by a kill
        if owned_by_command(item.meta):
            out.append(item)
    return out


def interrupted(spool: Spool) -> list[tuple[Item, ImportLock]]:
    """Imports whose process died before they were filed, oldest first, each now locked by this process
    (two runs never finish the same one); an import still running is left to its process."""
    out = []
    folder = spool.dir("imports")
    for item in _in_cur(spool):
        lock = ImportLock.take(folder, item.id)
        if lock is None:
            continue
        if spool.claimed(item):      # looked at again under the lock: another run may have filed it
            out.append((item, lock))
        else:
            lock.release()
    return out
