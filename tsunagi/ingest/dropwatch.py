"""Drop folders (spool/drop/<shop>/): a complete file is moved durably into the spool, then removed."""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from watchdog.events import FileClosedEvent, FileMovedEvent, FileSystemEventHandler
from watchdog.observers import Observer

from tsunagi.common.durable import fsync_dir
from tsunagi.ingest.spool import Spool

log = logging.getLogger("tsunagi.drop")
SETTLE_SECONDS = 0.3      # a file closed and not written again for this long is complete


def _ignored(path: Path) -> bool:
    """Files still being written under a temporary name: hidden, .tmp, .part, ~ (editors, uploaders)."""
    name = path.name
    return name.startswith((".", "~")) or name.endswith((".tmp", ".part", ".filepart", "~"))


def _open_for_writing(path: Path) -> bool:
    """True while some process still has the file open for writing. Linux grants a read lease only
    when nobody does; where a lease cannot be asked for (not our file), only the quiet time counts."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return True
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    except OSError as exc:
        return exc.errno == errno.EAGAIN
    finally:
        os.close(fd)


class DropFolders:
    def __init__(self, spool: Spool, shops: set[str], on_items: Callable[[list[str]], None],
                 stable_seconds: float = 2.0):
        self.spool = spool
        self.root = spool.dir("drop")
        self.shops = shops
        self.on_items = on_items
        self.stable_seconds = stable_seconds
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._observer = None
        for shop in shops:
            (self.root / shop).mkdir(parents=True, exist_ok=True)

    def take_all(self) -> list[str]:
        """At start-up: everything dropped while the daemon was down, which is complete by now."""
        return self.scan(still_for=0.0)

    def scan(self, still_for: float | None = None) -> list[str]:
        """Take every file that has not been written for stable_seconds."""
        seconds = self.stable_seconds if still_for is None else still_for
        taken = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if folder.name not in self.shops:
                if folder.name not in self._warned:
                    log.warning("drop folder %s is not a shop in the configuration; its files wait", folder)
                    self._warned.add(folder.name)
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and not _ignored(path) and self._still(path, seconds):
                    taken += self.take(path)
        if taken:
            self.on_items(taken)
        return taken

    def _still(self, path: Path, seconds: float) -> bool:
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        return time.time() - st.st_mtime >= seconds and not _open_for_writing(path)

    def take(self, path: Path) -> list[str]:
        """Copy into the spool (fsync'd, in new/), then remove the dropped file."""
        with self._lock:
            if not path.exists():
                return []
            shop = path.parent.name
            with open(path, "rb") as fh:
                item = self.spool.put_file(fh, {"source": "drop", "kind": "csv", "shop": shop, "file": path.name},
                                           suffix=".csv")
            os.unlink(path)
            fsync_dir(path.parent)
            log.info("drop %s/%s -> spool item %s (%d bytes)", shop, path.name, item.id, item.meta["size"])
            return [item.id]

    def _settled(self, path: Path) -> None:
        """After a close event: take the file if nothing has written to it for a moment."""
        try:
            before = path.stat()
        except FileNotFoundError:
            return
        time.sleep(SETTLE_SECONDS)
        try:
            after = path.stat()
        except FileNotFoundError:
            return
        if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns):
            self._take_and_tell(path)

    def _take_and_tell(self, path: Path) -> None:
        try:
            ids = self.take(path)
        except OSError:
            log.exception("drop %s: could not be moved into the spool; it stays and is tried again", path)
            return
        if ids:
            self.on_items(ids)

    def _event(self, path: Path, renamed: bool) -> None:
        if path.parent.parent != self.root or path.parent.name not in self.shops or _ignored(path):
            return
        if renamed:   # renamed in: complete by the writer's own word
            self._take_and_tell(path)
        else:
            threading.Thread(target=self._settled, args=(path,), daemon=True).start()

    def start(self) -> None:
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_closed(self, event: FileClosedEvent) -> None:
                if not event.is_directory:
                    watcher._event(Path(os.fsdecode(event.src_path)), renamed=False)

            def on_moved(self, event: FileMovedEvent) -> None:
                if not event.is_directory:
                    watcher._event(Path(os.fsdecode(event.dest_path)), renamed=True)

        self._observer = Observer()
        self._observer.schedule(Handler(), str(self.root), recursive=True)
        self._observer.start()

    def stop(self) -> None:
        if self._observer:
            self._observer.stop()
            self._observer.join(timeout=5)
