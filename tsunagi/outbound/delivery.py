"""Where each outbox file is on its way: pushes and people record sent or failed; ready/ is kept in step."""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from tsunagi.common.clock import JST
from tsunagi.oms import deliveries
from tsunagi.oms.store import Store

log = logging.getLogger("tsunagi.delivery")
MANUAL = "manual"


def move_to_sent(path: Path) -> Path:
    """ready/<name> -> sent/<name>: the way every delivered file leaves ready/. Not fsync'd: the store says it
    was sent, so a move a crash undoes is done again by settle(), and the file is never uploaded again."""
    sent = path.parent.parent / "sent"
    sent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(path, sent / path.name)
    except FileNotFoundError:
        pass        # merged into a newer unsent file meanwhile (stock feeds): the server has these bytes all the same
    return sent / path.name


def target_of(path: Path) -> str:
    """outbox/<target>/ready/<name> -> target."""
    return path.parent.parent.name


class Tracker:
    """What a push tells the store about each file it handles. The upload comes first, its record second, the
    move out of ready/ last: a crash leaves a file either unrecorded (uploaded again, under the same name) or
    recorded and still in ready/ (moved by settle(), never uploaded again)."""

    def __init__(self, store: Store, endpoint: str):
        self.store = store
        self.endpoint = endpoint
        self.closed = 0               # orders closed because their confirmation file was sent

    def sent(self, path: Path, remote: str = "") -> None:
        """The server has the file under its final name."""
        with self.store.transaction() as tx:
            self.closed += deliveries.sent(tx, target_of(path), path.name, self.endpoint, remote)
        move_to_sent(path)

    def failed(self, path: Path, error: str) -> None:
        with self.store.transaction() as tx:
            deliveries.failed(tx, target_of(path), path.name, self.endpoint, error)

    def settle(self, folder: Path) -> list[str]:
        """Files of outbox/<target>/ already recorded sent but still in its ready/ (a crash between the record
        and the move): moved to sent/ now, never uploaded again."""
        return settle(self.store, folder)


def settle(store: Store, folder: Path) -> list[str]:
    ready = folder / "ready"
    if not ready.is_dir():
        return []
    names = sorted(_names(ready))
    known = deliveries.states_of(store.read(), folder.name, names)
    moved = [n for n in names if known.get(n) in ("sent", "rejected")]
    for name in moved:
        move_to_sent(ready / name)
        log.info("outbox %s: %s was recorded sent before a stop; moved to sent/", folder.name, name)
    return moved


def recover(store: Store, outbox: Path) -> dict[str, int]:
    """At start-up: files recorded sent that a stop left in ready/ go to sent/; every ready/ file has its row."""
    moved = sum(len(settle(store, f)) for f in sorted(outbox.iterdir()) if f.is_dir()) if outbox.is_dir() else 0
    sync(store, outbox)
    return {"recorded_sent_moved": moved}


def mark_sent(store: Store, path: Path) -> int:
    """A person uploaded the file: recorded sent by hand, then moved out of ready/ as a push does. How many
    orders this closed (its shipment confirmations)."""
    with store.transaction() as tx:
        closed = deliveries.sent(tx, target_of(path), path.name, MANUAL)
    move_to_sent(path)
    return closed


def sync(store: Store, outbox: Path, targets: set[str] | None = None) -> None:
    """Every file in a ready/ folder has its row (written at its modification time: a writer that records none
    itself, or a file put there by hand); a waiting file gone from tmp/ and ready/ unsent is withdrawn."""
    folders = [f for f in sorted(outbox.iterdir()) if f.is_dir() and (targets is None or f.name in targets)] \
        if outbox.is_dir() else []
    for folder in folders:
        waiting = deliveries.waiting_names(store.read(), folder.name)  # first: a row committed now has its file below
        present = _names(folder / "tmp") | _names(folder / "ready")     # tmp/ first: files move tmp/ -> ready/
        ready = folder / "ready"
        in_ready = sorted(_names(ready))
        known = deliveries.states_of(store.read(), folder.name, in_ready)
        new = [(n, _mtime(ready / n)) for n in in_ready if n not in known]
        gone = [n for n in waiting if n not in present]
        if not new and not gone:
            continue
        with store.transaction() as tx:
            for name, at in new:
                if at:
                    deliveries.written(tx, folder.name, name, at)
            deliveries.withdrawn(tx, folder.name, gone)


def _names(folder: Path) -> set[str]:
    try:
        return {e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")}
    except FileNotFoundError:
        return set()


def _mtime(path: Path) -> str | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, JST).isoformat(timespec="microseconds")
    except FileNotFoundError:
        return None
