"""The spool: items written Maildir-style (tmp, fsync, rename to new), claimed, then done or failed."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tsunagi.common import clock
from tsunagi.common.durable import fsync_dir, replace_whole, write_new
from tsunagi.ingest import importlock

DIRS = ("tmp", "new", "cur", "done", "failed", "drop", "outbox", "attempts", "imports")
POISON_AFTER = 3      # attempts that stopped the process (or failed a whole pass) before an item is set aside


@dataclass
class Item:
    id: str
    folder: Path          # where it is now
    suffix: str           # ".eml" or ".csv"
    meta: dict
    learnt: bool = False  # meta holds what was learnt of it (annotate) and not yet written
    hashed_here: bool = False   # its sha256 was taken from the bytes this process wrote (put_file): no need to check

    @property
    def data_path(self) -> Path:
        return self.folder / f"{self.id}{self.suffix}"

    @property
    def meta_path(self) -> Path:
        return self.folder / f"{self.id}.meta.json"

    def read(self) -> bytes:
        return self.data_path.read_bytes()

    @property
    def file_time(self) -> datetime | None:
        """When the file was made, as it reached us: its mtime where the source gave one, else when spooled."""
        text = self.meta.get("file_mtime") or self.meta.get("spooled_at")
        return datetime.fromisoformat(text) if text else None


def mtime_meta(mtime: float | None) -> dict:
    """The meta field that keeps a received file's modification time (none when the source gave none)."""
    return {"file_mtime": clock.at(mtime).isoformat(timespec="microseconds")} if mtime else {}


ID_TIME = "%Y%m%dT%H%M%S.%f"       # an id starts with the JST time it was made
ID_LENGTH = len("20261122T140501.123456-abcdef")


def read_meta(folder: str, item_id: str) -> dict:
    """An item's meta read straight from its folder's path (no Path, no Item: a spec replay reads thousands)."""
    with open(os.path.join(folder, f"{item_id}.meta.json"), "rb") as fh:
        return json.loads(fh.read())


def new_id() -> str:
    """Ids sort by time: 20261122T140501.123456-<random>."""
    return f"{clock.now():{ID_TIME}}-{secrets.token_hex(3)}"


def id_time(item_id: str) -> datetime | None:
    """When an item was spooled, read off its id; None for a name that is no id."""
    try:
        return datetime.strptime(item_id.split("-", 1)[0], ID_TIME).replace(tzinfo=clock.JST)
    except ValueError:
        return None


def ids_in(folder: Path) -> list[str]:
    """Ids of the items in a folder, oldest first; none when the folder is not there (nothing is created)."""
    return sorted(p.name[:-10] for p in folder.glob("*.meta.json")) if folder.is_dir() else []


class Spool:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        for name in DIRS:
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def dir(self, name: str) -> Path:
        return self.root / name

    def put(self, data: bytes, meta: dict, suffix: str = ".eml", item_id: str | None = None) -> Item:
        """Durable on return: the data and its meta are fsync'd and renamed into new/.

        The meta file is renamed last: an item is in new/ only once its .meta.json is. item_id: the id it gets
        (an IMAP pull records it before the item is written)."""
        item_id = item_id or new_id()
        meta = dict(meta, id=item_id, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    suffix=suffix, spooled_at=clock.now().isoformat())
        tmp = self.dir("tmp")
        write_new(tmp / f"{item_id}{suffix}", data)
        write_new(tmp / f"{item_id}.meta.json", json.dumps(meta, ensure_ascii=False).encode())
        new = self.dir("new")
        os.rename(tmp / f"{item_id}{suffix}", new / f"{item_id}{suffix}")
        os.rename(tmp / f"{item_id}.meta.json", new / f"{item_id}.meta.json")
        fsync_dir(new)
        return Item(item_id, new, suffix, meta)

    def put_file(self, src, meta: dict, suffix: str = ".csv", into: str = "new", item_id: str | None = None) -> Item:
        """Like put, for a file of any size: copied in blocks into tmp/, then adopted.

        into="cur" hands the item straight to the caller (a command applying it in the foreground);
        item_id: the id it gets (a command's import holds its lock under that id before it starts)."""
        item_id = item_id or new_id()
        path = self.dir("tmp") / f"{item_id}.part"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        digest, size = hashlib.sha256(), 0
        try:
            while block := src.read(1 << 20):
                digest.update(block)      # hashed as written: the copy is never read back
                size += len(block)
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        item = self._adopted(path, meta, suffix, into, item_id, digest.hexdigest(), size)
        item.hashed_here = True
        return item

    def adopt(self, path: Path, meta: dict, suffix: str = ".csv", into: str = "new",
              item_id: str | None = None) -> Item:
        """Make a complete file written into tmp/ an item: hashed, fsync'd, meta beside it, renamed in."""
        digest, size = hashlib.sha256(), 0
        with open(path, "rb+") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
                size += len(block)
            os.fsync(fh.fileno())
        return self._adopted(path, meta, suffix, into, item_id or new_id(), digest.hexdigest(), size)

    def _adopted(self, path: Path, meta: dict, suffix: str, into: str, item_id: str, sha256: str, size: int) -> Item:
        """A file in tmp/, durable, with its sha256 and size: its meta written beside it, both renamed in."""
        meta = dict(meta, id=item_id, sha256=sha256, size=size, suffix=suffix, spooled_at=clock.now().isoformat())
        tmp = self.dir("tmp")
        os.rename(path, tmp / f"{item_id}{suffix}")
        write_new(tmp / f"{item_id}.meta.json", json.dumps(meta, ensure_ascii=False).encode())
        dest = self.dir(into)
        os.rename(tmp / f"{item_id}{suffix}", dest / f"{item_id}{suffix}")
        os.rename(tmp / f"{item_id}.meta.json", dest / f"{item_id}.meta.json")
        fsync_dir(dest)
        return Item(item_id, dest, suffix, meta)

    def annotate(self, item: Item, **fields) -> None:
        """Add what was learnt of an item (its DKIM verdict) to its meta; written when the item is filed
        (done/fail), not here: an fsync a mail on the apply path for what spool retry works out again."""
        item.meta.update(fields)
        item.learnt = True

    def _write_meta(self, item: Item, durable: bool = True) -> None:
        """The item's meta written whole over the old one (a reader sees one or the other). durable=False
        spares the fsyncs, for what can be worked out again: a rename over an existing file still has ext4
        (auto_da_alloc) write the new bytes before the new name, so no crash leaves an empty meta."""
        data = json.dumps(item.meta, ensure_ascii=False).encode()
        if durable:
            replace_whole(item.meta_path, data)
        else:
            tmp = item.meta_path.with_name(f".{item.meta_path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, item.meta_path)
        item.learnt = False

    def scratch(self, item: Item) -> Path:
        """A working file for an item's decoded copy; tmp/ is cleared at start-up."""
        return self.dir("tmp") / f"{item.id}.utf8"

    def waiting(self) -> list[str]:
        """Ids in new/, oldest first."""
        return ids_in(self.dir("new"))

    def load(self, folder: str, item_id: str) -> Item:
        meta = json.loads((self.dir(folder) / f"{item_id}.meta.json").read_text(encoding="utf-8"))
        return Item(item_id, self.dir(folder), meta.get("suffix", ".eml"), meta)

    def claim(self, item_id: str) -> Item | None:
        """Move an item from new/ to cur/; None if another worker took it first."""
        try:
            item = self.load("new", item_id)
            os.rename(item.data_path, self.dir("cur") / item.data_path.name)
        except FileNotFoundError:
            return None
        os.rename(item.meta_path, self.dir("cur") / item.meta_path.name)
        item.folder = self.dir("cur")
        return item

    def attempting(self, items: list[Item]) -> Path | None:
        """Durably note that work on these claimed items starts (one fsync'd file for the lot): if the
        process dies before attempted(), start-up recovery counts an attempt for each still in cur/."""
        if not items:
            return None
        path = self.dir("attempts") / f"{items[0].id}-{secrets.token_hex(3)}"
        try:
            write_new(path, "".join(f"{i.id}\n" for i in items).encode())
            fsync_dir(path.parent)
        except OSError:
            path.unlink(missing_ok=True)    # a disk full part-way must not leave half a note behind
            raise
        return path

    @staticmethod
    def attempted(note: Path | None) -> None:
        """The work noted ended (its items filed, or given back): no crash to count."""
        if note is not None:
            note.unlink(missing_ok=True)

    def claimed(self, item: Item) -> bool:
        """Still in cur/ (neither filed nor given back)."""
        return item.folder == self.dir("cur") and item.data_path.exists()

    def release(self, item: Item) -> None:
        """A claimed item back to new/, uncounted: its work met a busy database or a full disk."""
        if self.claimed(item):
            self._move(item, self.dir("new"))

    def give_back(self, item: Item, why: str) -> bool:
        """A claimed item whose pass failed as a whole: one attempt counted in its meta (durably), then
        back to new/, or to failed/ as poison after POISON_AFTER. True if it was set aside."""
        return self.claimed(item) and self._count(item, 1, why)

    def _count(self, item: Item, n: int, why: str | None) -> bool:
        """n more attempts (why: the last failure; None: the process stopped)."""
        attempts = int(item.meta.get("attempts", 0)) + n
        why = why or f"the process stopped while applying this item {attempts} times"
        item.meta = dict(item.meta, attempts=attempts, last_failure=why)
        self._write_meta(item)
        if attempts >= POISON_AFTER:
            self.fail(item, {"stage": "apply", "kind": "poison", "attempts": attempts, "message": why})
            return True
        self._move(item, self.dir("new"))
        return False

    def _noted(self) -> tuple[list[Path], dict[str, int]]:
        """The attempt notes a crash left, and how many name each item."""
        notes = sorted(self.dir("attempts").iterdir())
        counts: dict[str, int] = {}
        for note in notes:
            try:
                for line in note.read_text(encoding="utf-8", errors="replace").split():
                    counts[line] = counts.get(line, 0) + 1
            except OSError:
                continue
        return notes, counts

    def _move(self, item: Item, dest: Path) -> None:
        if item.learnt and dest != self.dir("new"):       # filed: what was learnt goes with it
            self._write_meta(item, durable=False)
        dest.mkdir(parents=True, exist_ok=True)
        os.rename(item.data_path, dest / item.data_path.name)
        os.rename(item.meta_path, dest / item.meta_path.name)
        item.folder = dest

    def done(self, item: Item, report: dict | None = None) -> None:
        """Applied. A report (rows refused in a file otherwise applied) goes beside it as <id>.reason.json."""
        dest = self.dir("done") / clock.now().strftime("%Y-%m-%d")
        if report:
            dest.mkdir(parents=True, exist_ok=True)
            self._write_reason(dest, item.id, dict(report, id=item.id))
        self._move(item, dest)

    def _write_reason(self, folder: Path, item_id: str, reason: dict) -> None:
        """Whole or not at all: written in tmp/, then renamed beside the item (readers never see half)."""
        tmp = self.dir("tmp") / f"{item_id}.reason.json"
        tmp.unlink(missing_ok=True)
        write_new(tmp, json.dumps(reason, ensure_ascii=False, indent=2).encode())
        os.rename(tmp, folder / f"{item_id}.reason.json")

    def find(self, item_id: str) -> tuple[Item, dict | None] | None:
        """An item wherever it is now, with its reason or report if it has one. The daemon may move it on
        while it is looked for (new/ → cur/ → done/): then it is looked for again."""
        for _ in range(5):
            try:
                return self._find(item_id)
            except FileNotFoundError:
                continue
        return self._find(item_id)

    def _find(self, item_id: str) -> tuple[Item, dict | None] | None:
        for folder in ("new", "cur", "failed", *sorted((f"done/{d.name}" for d in self.dir("done").iterdir()),
                                                      reverse=True)):
            if (self.dir(folder) / f"{item_id}.meta.json").exists():
                item = self.load(folder, item_id)
                reason = self.dir(folder) / f"{item_id}.reason.json"
                return item, json.loads(reason.read_text(encoding="utf-8")) if reason.exists() else None
        return None

    def fail(self, item: Item, reason: dict) -> None:
        """Quarantine with <id>.reason.json; the reason is durable before the item leaves cur/."""
        reason = dict(reason, id=item.id, failed_at=clock.now().isoformat(),
                      source=item.meta.get("source", ""), shop=item.meta.get("shop", ""))
        self._write_reason(self.dir("failed"), item.id, reason)
        self._move(item, self.dir("failed"))

    def retry(self, item_id: str) -> Item:
        """Put a quarantined item back in new/ to be run again."""
        item = self.load("failed", item_id)
        if "attempts" in item.meta:       # after the fix it was set aside for, it gets its three tries again
            item.meta = {k: v for k, v in item.meta.items() if k not in ("attempts", "last_failure")}
            self._write_meta(item)
        (self.dir("failed") / f"{item_id}.reason.json").unlink(missing_ok=True)
        self._move(item, self.dir("new"))
        return item

    def supersede(self, item_id: str, by: str) -> None:
        """A quarantined file whose waiting rows a later copy of the same bytes took over: to done/,
        its report saying which item has them now (one item in failed/ a file, never a stale one)."""
        reason_path = self.dir("failed") / f"{item_id}.reason.json"
        if not (self.dir("failed") / f"{item_id}.meta.json").exists():
            return
        item = self.load("failed", item_id)
        reason = json.loads(reason_path.read_text(encoding="utf-8")) if reason_path.exists() else {}
        self.done(item, dict(reason, kind="superseded", superseded_by=by,
                             message=f"同じファイルが {by} として再び取り込まれました (待っていた行はそちらで)"))
        reason_path.unlink(missing_ok=True)

    def failed(self) -> list[dict]:
        out = []
        for path in sorted(self.dir("failed").glob("*.reason.json")):
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                out.append({"id": path.name[:-12], "kind": "unreadable_reason", "message": "reason file unreadable"})
        return out

    def _follow_data(self, meta: Path, data_name: str) -> None:
        """Put a meta file beside its data in done/ or failed/."""
        for place in [self.dir("failed"), *sorted(self.dir("done").iterdir(), reverse=True)]:
            if (place / data_name).exists():
                os.rename(meta, place / meta.name)
                return

    def recover(self, max_tmp_age: float = 0.0) -> dict[str, int]:
        """At start-up: items a crash left in cur/ go back to new/; half-written tmp/ files and
        data files in new/ whose meta never arrived (never acknowledged) are removed.

        A `tsunagi import` item stays in cur/, whether its process still runs or died: the command's
        next run finishes or abandons it (importlock), never this replay behind newer files."""
        counts = {"requeued": 0, "orphans": 0, "poison": 0}
        cur, new = self.dir("cur"), self.dir("new")
        notes, crashed = self._noted()
        for meta in cur.glob("*.meta.json"):
            try:
                item = self.load("cur", meta.name[:-10])
            except FileNotFoundError:
                continue            # a running import filed it meanwhile
            if importlock.owned_by_command(item.meta):
                if importlock.held(self.dir("imports"), item.id):
                    continue        # still running: its own process files it
                if item.data_path.exists():
                    counts["interrupted_imports"] = counts.get("interrupted_imports", 0) + 1
                    continue
            if item.data_path.exists():
                if item.id in crashed:     # the process stopped while working on it: counted
                    poison = self._count(item, crashed[item.id], None)
                    counts["poison" if poison else "requeued"] += 1
                    continue
                self._move(item, new)
                counts["requeued"] += 1
            else:  # killed between the two renames of done()/fail(): the data went ahead
                self._follow_data(meta, item.data_path.name)
        for stray in list(cur.iterdir()):  # killed between the two renames of claim()
            if not stray.name.endswith(".meta.json") and \
                    (new / (stray.name.rsplit(".", 1)[0] + ".meta.json")).exists():
                os.rename(stray, new / stray.name)
                counts["requeued"] += 1
        for note in notes:          # counted above: each crash once
            note.unlink(missing_ok=True)
        importlock.sweep(self.dir("imports"), set(ids_in(cur)))
        cutoff = time.time() - max_tmp_age
        for path in self.dir("tmp").iterdir():
            if importlock.held(self.dir("imports"), path.name[:ID_LENGTH]):
                continue         # a running import's copy or decoded scratch (its lock came first)
            try:
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    counts["orphans"] += 1
            except FileNotFoundError:
                continue         # its import finished with it meanwhile
        metas = {p.name[:-10] for p in self.dir("new").glob("*.meta.json")}
        for path in self.dir("new").iterdir():
            if not path.name.endswith(".meta.json") and path.name.rsplit(".", 1)[0] not in metas:
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    counts["orphans"] += 1
        return counts
