"""IMAP pull: each mail of a folder spooled once (Message-ID and sha256), then moved or flagged on the server."""
from __future__ import annotations

import fcntl
import hashlib
import imaplib
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Iterator

from tsunagi.common import clock
from tsunagi.common.durable import append_line, replace_whole
from tsunagi.common.errors import TsunagiError
from tsunagi.common.imap import BROKEN, ImapError, quoted
from tsunagi.ingest.spool import Spool, new_id

log = logging.getLogger("tsunagi.imap")
KEEP_DAYS = 30              # what a mailbox took is remembered this long (once the record is long)
COMPACT_ABOVE = 20_000      # lines of that record before it is compacted
LIST_AT_ONCE = 1000         # mails listed (UIDs and sizes) with one command
BATCH_MAILS = 100            # mails fetched (and moved) with one command
BATCH_BYTES = 4 << 20       # and at most this much of them held in memory (a larger mail comes alone)
SYSTEM_FLAGS = {"\\SEEN": "UNSEEN", "\\FLAGGED": "UNFLAGGED", "\\ANSWERED": "UNANSWERED"}


class FolderMissing(TsunagiError):
    """The folder to read, or the one to move into, is not on the server."""


class Busy(TsunagiError):
    """Another process (the daemon, or `tsunagi imap run`) is pulling this endpoint now."""


@dataclass
class PullResult:
    taken: list[str] = field(default_factory=list)      # new spool item ids
    already: list[int] = field(default_factory=list)    # UIDs of mails taken before (their move failed, or a copy)
    errors: list[str] = field(default_factory=list)


class Taken:
    """Mails an endpoint spooled: one JSON line each (Message-ID, sha256, the item it became), fsync'd BEFORE the
    item is written, so whatever a crash interrupts, the next run finds the line and asks the spool."""

    def __init__(self, path: Path):
        self.path = path
        self.by_key: dict[str, str] = {}          # "mid:<Message-ID>" and "sha:<sha256>" -> item id
        self.lines: list[tuple[str, str]] = []    # (when, line) of each whole line, for compact()
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        for line in text.splitlines():
            try:
                e = json.loads(line)
                self.remember(e["message_id"], e["sha256"], e["item"])
                self.lines.append((e["at"], line))
            except (ValueError, KeyError, TypeError):
                continue   # a line cut by a crash: its item was never written (the line goes first)

    def remember(self, message_id: str, sha256: str, item_id: str) -> None:
        if message_id:
            self.by_key[f"mid:{message_id}"] = item_id
        self.by_key[f"sha:{sha256}"] = item_id

    def item_for(self, message_id: str, sha256: str) -> str | None:
        """The item a mail with this Message-ID or these bytes became (or was about to become)."""
        return (message_id and self.by_key.get(f"mid:{message_id}")) or self.by_key.get(f"sha:{sha256}")

    def add(self, entries: list[tuple[str, str, str, str]]) -> None:
        """(Message-ID, sha256, item id, UID) of mails about to be spooled: one append, one fsync."""
        if not entries:
            return
        at = clock.now().isoformat()
        lines = [json.dumps({"message_id": mid, "sha256": sha, "item": item, "uid": uid, "at": at},
                            ensure_ascii=False) for mid, sha, item, uid in entries]
        append_line(self.path, "".join(f"{line}\n" for line in lines))     # a line a crash cut is ended first
        self.lines += [(at, line) for line in lines]
        for mid, sha, item, _ in entries:
            self.remember(mid, sha, item)

    def compact(self, keep_days: float = KEEP_DAYS, above: int = COMPACT_ABOVE) -> int:
        """Past `above` lines, the record is rewritten whole with the lines of the last keep_days only (a mail
        still on the server after that is caught by its sha256 when applied); returns the lines dropped."""
        if len(self.lines) <= above:
            return 0
        cutoff = (clock.now() - timedelta(days=keep_days)).isoformat()
        kept = [(at, line) for at, line in self.lines if at >= cutoff]
        replace_whole(self.path, "".join(f"{line}\n" for _, line in kept).encode())
        dropped, self.lines = len(self.lines) - len(kept), kept
        return dropped


@contextmanager
def locked(path: Path, endpoint: str) -> Iterator[None]:
    """One puller of an endpoint at a time (the daemon's schedule and a command): the other is told, not queued."""
    with open(path.with_suffix(".lock"), "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"imap {endpoint}: another tsunagi process is reading this mailbox now; "
                       f"try again shortly") from None
        yield


def message_id(data: bytes) -> str:
    """The mail's Message-ID as written (folded whitespace taken out); "" when it has none."""
    value = BytesHeaderParser(policy=compat32).parsebytes(data).get("Message-ID", "")
    return re.sub(r"\s+", "", str(value))


@dataclass
class Mailbox:
    """Where mails are read and what is done with them once they are safe here."""
    endpoint: str
    folder: str
    after: str               # "move" or "flag"
    processed_folder: str
    flag: str
    max_bytes: int


def pull(conn: imaplib.IMAP4, box: Mailbox, spool: Spool, taken: Taken, meta: dict) -> PullResult:
    """One pass over the folder, a batch at a time. Each mail is durable in new/ before it is moved or flagged
    on the server; a mail whose Message-ID or bytes were taken before is only moved or flagged."""
    result = PullResult()
    while True:                # a listing at a time: a folder of thousands is never one command line
        listed, more = _listed(conn, box)
        waiting = []
        for uid, size in listed:
            if size > box.max_bytes:
                result.errors.append(f"UID {uid}: {size} bytes, over smtp.max_message_bytes; left on the server")
            else:
                waiting.append((uid, size))
        for batch in _batches(waiting):
            if not _one_batch(conn, box, spool, taken, meta, batch, result):
                return result  # the connection or the disk failed: the rest waits for the next run
        if not more or result.errors:     # anything left behind would only be listed again
            return result


def _listed(conn: imaplib.IMAP4, box: Mailbox) -> tuple[list[tuple[str, int]], bool]:
    """What waits in the folder (the processed folder checked first); ImapError, one line, when the server
    cannot say."""
    try:
        if box.after == "move":
            check_folder(conn, box.endpoint, box.processed_folder)
        return _waiting(conn, box)
    except BROKEN as exc:
        raise ImapError(f"imap {box.endpoint}: the connection dropped while {box.folder!r} was listed "
                        f"({type(exc).__name__}: {exc})") from None
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"imap {box.endpoint}: {box.folder!r} could not be listed: {exc}") from None


def _one_batch(conn: imaplib.IMAP4, box: Mailbox, spool: Spool, taken: Taken, meta: dict, batch: list[str],
               result: PullResult) -> bool:
    """Fetch, spool, then move or flag one batch; False when the pass cannot go on."""
    try:
        mails = _fetch(conn, batch)
        try:
            safe = _take(box, spool, taken, meta, mails, result)
        except OSError as exc:         # a full disk: what was written is recorded; nothing is moved
            result.errors.append(f"spool write failed ({exc}); the mails stay on the server")
            log.error("imap %s: spool write failed: %s", box.endpoint, exc)
            return False
        _finish(conn, box, safe, result)
    except BROKEN as exc:
        result.errors.append(f"{_mails(batch)}: the connection dropped ({type(exc).__name__}: {exc}); "
                             f"the rest waits for the next run")
        log.warning("imap %s: connection dropped: %s", box.endpoint, exc)
        return False
    except imaplib.IMAP4.error as exc:          # the server refused a command: the next batch may go
        result.errors.append(f"{_mails(batch)}: {exc}; tried again next run")
        log.warning("imap %s: %s: %s", box.endpoint, _mails(batch), exc)
    return True


def _batches(waiting: list[tuple[str, int]]) -> Iterator[list[str]]:
    """UIDs in groups of at most BATCH_MAILS mails and BATCH_BYTES (a larger mail alone): one FETCH and one
    MOVE each, instead of a round trip and a server fsync a mail."""
    batch, size = [], 0
    for uid, n in waiting:
        if batch and (len(batch) >= BATCH_MAILS or size + n > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(uid)
        size += n
    if batch:
        yield batch


def _uid_set(uids: list[str]) -> str:
    """An IMAP sequence set, runs written as ranges: 1:100,205,300:302."""
    nums = sorted(int(u) for u in uids)
    runs: list[list[int]] = []
    for n in nums:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(f"{a}:{b}" if a != b else f"{a}" for a, b in runs)


def _mails(uids: list[str]) -> str:
    """Mails named for a person: "UID 7", "UIDs 3, 9", "UIDs 1…100 (100 mails)"."""
    if len(uids) == 1:
        return f"UID {uids[0]}"
    return f"UIDs {', '.join(uids)}" if len(uids) <= 3 else f"UIDs {uids[0]}…{uids[-1]} ({len(uids)} mails)"


def _waiting(conn: imaplib.IMAP4, box: Mailbox) -> tuple[list[tuple[str, int]], bool]:
    """(UID, size) of the folder's oldest LIST_AT_ONCE mails not yet moved or flagged, and whether there are
    more."""
    typ, data = conn.select(quoted(box.folder))
    if typ != "OK":
        raise FolderMissing(f"imap {box.endpoint}: folder {box.folder!r} cannot be opened: {_said(data)}")
    criteria = "UNDELETED" + (f" {_unflagged(box.flag)}" if box.after == "flag" else "")
    typ, data = conn.uid("SEARCH", criteria)
    found = sorted(data[0].decode().split(), key=int) if typ == "OK" and data and data[0] else []
    uids = found[:LIST_AT_ONCE]
    if not uids:
        return [], False
    typ, data = conn.uid("FETCH", _uid_set(uids), "(RFC822.SIZE)")
    sizes = {}
    for part in data if typ == "OK" else []:
        uid, size = (re.search(rb"\b%s (\d+)" % key, part) if isinstance(part, bytes) else None
                     for key in (rb"UID", rb"RFC822\.SIZE"))
        if uid and size:
            sizes[uid.group(1).decode()] = int(size.group(1))
    return [(u, sizes.get(u, 0)) for u in uids], len(found) > len(uids)


def _unflagged(flag: str) -> str:
    return SYSTEM_FLAGS.get(flag.upper(), f"UNKEYWORD {flag}")


def _fetch(conn: imaplib.IMAP4, uids: list[str]) -> dict[str, bytes]:
    """The mails' bytes as stored, by UID (BODY.PEEK: \\Seen is left as it was); one expunged meanwhile by
    someone else is simply not there. imaplib returns only once the whole response has arrived."""
    typ, data = conn.uid("FETCH", _uid_set(uids), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH refused: {_said(data)}")
    mails = {}
    for n, part in enumerate(data):
        if isinstance(part, tuple):       # (b'1 (UID 5 BODY[] {123}', bytes); the UID may follow the literal
            after = data[n + 1] if n + 1 < len(data) and isinstance(data[n + 1], bytes) else b""
            found = re.search(rb"\bUID (\d+)", part[0]) or re.search(rb"\bUID (\d+)", after)
            if found:
                mails[found.group(1).decode()] = part[1]
    return mails


def _take(box: Mailbox, spool: Spool, taken: Taken, meta: dict, mails: dict[str, bytes],
          result: PullResult) -> list[str]:
    """Spool the mails not taken before: their lines recorded first (one fsync for the batch), then each item
    written (fsync'd). Returns the UIDs now safe here, to be moved or flagged."""
    fresh, safe = [], []
    for uid in sorted(mails, key=int):
        data = mails[uid]
        sha, mid = hashlib.sha256(data).hexdigest(), message_id(data)
        earlier = taken.item_for(mid, sha)
        if earlier and (earlier in {f[4] for f in fresh} or spool.find(earlier)):
            result.already.append(int(uid))
            log.info("imap %s: UID %s (%s) was taken before as %s; not spooled again", box.endpoint, uid,
                     mid or sha[:12], earlier)
            safe.append(uid)
            continue
        fresh.append((uid, data, mid, sha, new_id()))
        taken.remember(mid, sha, fresh[-1][4])
    taken.add([(mid, sha, item_id, uid) for uid, _, mid, sha, item_id in fresh])   # first: a crash after it is
    for uid, data, mid, _, item_id in fresh:        # found by the next run, in the spool or not
        spool.put(data, dict(meta, source="imap", endpoint=box.endpoint, folder=box.folder, uid=int(uid),
                             message_id=mid, received_at=clock.now().isoformat()), item_id=item_id)
        result.taken.append(item_id)
        safe.append(uid)
        log.info("imap %s: UID %s -> spool item %s", box.endpoint, uid, item_id)
    return sorted(safe, key=int)


def _finish(conn: imaplib.IMAP4, box: Mailbox, uids: list[str], result: PullResult) -> None:
    """Move the mails to processed_folder, or flag them; a refusal only means they are seen again next run
    and skipped as taken."""
    if not uids:
        return
    uid_set = _uid_set(uids)
    if box.after == "flag":
        typ, data = conn.uid("STORE", uid_set, "+FLAGS.SILENT", f"({box.flag})")
    elif "MOVE" in conn.capabilities:
        typ, data = conn.uid("MOVE", uid_set, quoted(box.processed_folder))
    else:        # RFC 3501 only: copy, then mark deleted (never EXPUNGE: it would take others' deleted mails too)
        typ, data = conn.uid("COPY", uid_set, quoted(box.processed_folder))
        if typ == "OK":
            typ, data = conn.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
    if typ != "OK":
        result.errors.append(f"{_mails(uids)}: spooled, but the {box.after} was refused ({_said(data)}); they "
                             f"will be seen again and skipped as taken")
        log.warning("imap %s: %s: %s refused: %s", box.endpoint, _mails(uids), box.after, _said(data))


def check_folder(conn: imaplib.IMAP4, endpoint: str, folder: str) -> None:
    """processed_folder must exist before anything is taken: a mail is moved there right after it is safe."""
    typ, data = conn.list('""', quoted(folder))
    if typ != "OK" or not [d for d in data if d]:
        raise FolderMissing(f"imap {endpoint}: processed_folder {folder!r} does not exist on the server; "
                            f"create it there (or set after = \"flag\")")


def _said(data) -> str:
    return " ".join(d.decode(errors="replace") if isinstance(d, bytes) else str(d) for d in data or [] if d)
