"""Drop folders (spool/drop/<shop>/): a complete file is moved durably into the spool, then removed."""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
import stat
import threading
import time
from pathlib import Path
from typing import Callable

from watchdog.events import FileClosedEvent, FileMovedEvent, FileSystemEventHandler
from watchdog.observers import Observer

from tsunagi.common import safetext
from tsunagi.ingest.spool import Spool, mtime_meta

log = logging.getLogger("tsunagi.drop")
SETTLE_SECONDS = 0.3      # a file closed and not written again for this long is complete


def _ignored(name: str) -> bool:
    """Files still being written under a temporary name: hidden, .tmp, .part, ~ (editors, uploaders)."""
    return name.startswith((".", "~")) or name.endswith((".tmp", ".part", ".filepart", "~"))


def _open_for_writing(fd: int) -> bool:
    """True while some process still has the file open for writing. Linux grants a read lease only
    when nobody does; where a lease cannot be asked for (not our file), only the quiet time counts."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    except OSError as exc:
        return exc.errno == errno.EAGAIN


def _open_entry(folder_fd: int, name: str) -> int:
    """The entry opened for reading without following a link and without blocking (a FIFO, a device)."""
    return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder_fd)


class Refused(Exception):
    """A drop-folder entry that is not a file of the folder itself: the message says what it is."""


SYMLINK = "シンボリックリンクは取り込みません (リンク先は読んでいません)"


def _check_regular(st: os.stat_result) -> None:
    """Only a regular file with no other name is taken (a hard link, like a symlink, may name a file
    someone may not read through the folder)."""
    if stat.S_ISLNK(st.st_mode):
        raise Refused(SYMLINK)
    if not stat.S_ISREG(st.st_mode):
        raise _NotAFile()
    if st.st_nlink != 1:
        raise Refused("ハードリンク (他にも名前のあるファイル) は取り込みません (内容は読んでいません)")


class _NotAFile(Exception):
    """A FIFO, socket, device or folder: left alone, never opened for reading."""


class DropFolders:
    def __init__(self, spool: Spool, shops: set[str], on_items: Callable[[list[str]], None],
                 stable_seconds: float = 2.0):
        self.spool = spool
        self.root = spool.dir("drop")
        self.shops = shops
        self.on_items = on_items
        self.stable_seconds = stable_seconds
        self._lock = threading.Lock()
        self._warned: set = set()
        self._observer = None
        for shop in shops:
            (self.root / shop).mkdir(parents=True, exist_ok=True)

    def _warn_once(self, key, message: str, *args, again: bool = False, error: bool = False) -> None:
        """Logged the first time for this key (again: this time too); error: at ERROR with the traceback."""
        if again or key not in self._warned:
            self._warned.add(key)
            log.log(logging.ERROR if error else logging.WARNING, message, *args, exc_info=error)

    def take_all(self) -> list[str]:
        """At start-up: everything dropped while the daemon was down, which is complete by now."""
        return self.scan(still_for=0.0)

    def scan(self, still_for: float | None = None) -> list[str]:
        """Take every file that has not been written for stable_seconds."""
        seconds = self.stable_seconds if still_for is None else still_for
        taken = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if folder.name not in self.shops:
                self._warn_once(folder.name, "drop folder %s is not a shop in the configuration; its files wait",
                                safetext.printable(str(folder)))
                continue
            for name in sorted(os.listdir(folder)):
                if not _ignored(name):
                    taken += self._take_if_still(folder, name, seconds)
        if taken:
            self.on_items(taken)
        return taken

    def _take_if_still(self, folder: Path, name: str, seconds: float) -> list[str]:
        try:
            st = os.lstat(folder / name)
        except FileNotFoundError:
            return []
        if stat.S_ISREG(st.st_mode) and time.time() - st.st_mtime < seconds:
            return []
        return self._take_and_report(folder / name, quiet=True, st=st)

    def take(self, path: Path, st: os.stat_result | None = None) -> list[str]:
        """Copy into the spool (fsync'd, in new/), then remove the dropped file. The file is opened
        without following a link or blocking, and checked on the open descriptor (no race between
        looking and opening); a link is refused once, a FIFO or device left alone. st: the entry's lstat
        when the caller has just taken it."""
        with self._lock:
            folder_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                return self._take_in(folder_fd, path, st)
            finally:
                os.close(folder_fd)

    def _take_in(self, folder_fd: int, path: Path, st: os.stat_result | None) -> list[str]:
        shop, name = path.parent.name, path.name
        try:
            _check_regular(st or os.stat(name, dir_fd=folder_fd, follow_symlinks=False))
            fd = _open_entry(folder_fd, name)
        except FileNotFoundError:
            return []
        except OSError as exc:
            if exc.errno != errno.ELOOP:         # O_NOFOLLOW met a link put there since the look
                raise
            return self._refuse(folder_fd, shop, name, SYMLINK)
        except Refused as exc:
            return self._refuse(folder_fd, shop, name, str(exc))
        except _NotAFile:
            self._warn_once((shop, name), "drop %s/%s is not a regular file (a FIFO, socket, device or folder): "
                            "left alone", shop, safetext.printable(name))
            return []
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            try:
                _check_regular(st)
            except Refused as exc:
                return self._refuse(folder_fd, shop, name, str(exc))
            except _NotAFile:       # swapped for a FIFO or device between the look and the open
                return []
            if _open_for_writing(fh.fileno()):
                return []
            item = self.spool.put_file(fh, {"source": "drop", "kind": "csv", "shop": shop,
                                            "file": safetext.printable(name), **mtime_meta(st.st_mtime)},
                                       suffix=".csv")
        self._remove(folder_fd, name, st)
        log.info("drop %s/%s -> spool item %s (%d bytes)", shop, safetext.printable(name), item.id, item.meta["size"])
        return [item.id]

    @staticmethod
    def _remove(folder_fd: int, name: str, st: os.stat_result) -> None:
        """Remove the name only while it still names the file taken (not one put there meanwhile)."""
        try:
            now = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
            os.unlink(name, dir_fd=folder_fd)
            os.fsync(folder_fd)

    def _refuse(self, folder_fd: int, shop: str, name: str, why: str) -> list[str]:
        """Recorded once in failed/ (the reason and the entry's name, none of its bytes), then the
        entry is removed from the folder (a link's target, a hard link's other names, stay)."""
        meta = {"source": "drop", "kind": "refused", "shop": shop, "file": safetext.printable(name)}
        part = self.spool.dir("tmp") / f"refused-{secrets.token_hex(6)}.part"
        part.touch(mode=0o640)
        item = self.spool.adopt(part, meta, ".refused", into="cur")
        message = f"ドロップフォルダ {shop} の「{safetext.printable(name)}」: {why}"
        self.spool.fail(item, {"stage": "drop", "kind": "refused", "message": message})
        os.unlink(name, dir_fd=folder_fd)
        os.fsync(folder_fd)
        log.warning("%s (spool item %s)", message, item.id)
        return []

    def _settled(self, path: Path) -> None:
        """After a close event: take the file if nothing has written to it for a moment."""
        try:
            before = os.lstat(path)
        except FileNotFoundError:
            return
        time.sleep(SETTLE_SECONDS)
        try:
            after = os.lstat(path)
        except FileNotFoundError:
            return
        if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns):
            self._take_and_tell(path)

    def _take_and_report(self, path: Path, quiet: bool = False, st: os.stat_result | None = None) -> list[str]:
        """take(), with a failure logged (once per file when quiet: the sweep meets it every pass)."""
        try:
            return self.take(path, st)
        except Exception:     # the file stays and is tried again; the other files go on
            self._warn_once(("error", str(path)), "drop %s: could not be moved into the spool; it stays and is "
                            "tried again", safetext.printable(str(path)), again=not quiet, error=True)
            return []

    def _take_and_tell(self, path: Path) -> None:
        ids = self._take_and_report(path)
        if ids:
            self.on_items(ids)

    def _event(self, path: Path, renamed: bool) -> None:
        if path.parent.parent != self.root or path.parent.name not in self.shops or _ignored(path.name):
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
