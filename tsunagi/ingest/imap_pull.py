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
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Iterator

from tsunagi.common import clock
from tsunagi.common.durable import append_line
from tsunagi.common.errors import TsunagiError
from tsunagi.common.imap import BROKEN, quoted
from tsunagi.ingest.spool import Spool, new_id

log = logging.getLogger("tsunagi.imap")
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
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    e = json.loads(line)
                    self._remember(e["message_id"], e["sha256"], e["item"])
                except (ValueError, KeyError, TypeError):
                    continue   # a line cut by a crash: its item was never written (the line goes first)

    def _remember(self, message_id: str, sha256: str, item_id: str) -> None:
        if message_id:
            self.by_key[f"mid:{message_id}"] = item_id
        self.by_key[f"sha:{sha256}"] = item_id

    def item_for(self, message_id: str, sha256: str) -> str | None:
        """The item a mail with this Message-ID or these bytes became (or was about to become)."""
        return (message_id and self.by_key.get(f"mid:{message_id}")) or self.by_key.get(f"sha:{sha256}")

    def add(self, message_id: str, sha256: str, item_id: str, uid: str) -> None:
        line = json.dumps({"message_id": message_id, "sha256": sha256, "item": item_id, "uid": uid,
                           "at": clock.now().isoformat()}, ensure_ascii=False) + "\n"
        append_line(self.path, line)
        self._remember(message_id, sha256, item_id)


@contextmanager
def locked(path: Path, endpoint: str) -> Iterator[None]:
    """One puller of an endpoint at a time (the daemon's schedule and a command): the other is told, not queued."""
    with open(path.with_suffix(".lock"), "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"imap {endpoint}: another tsunagi process is reading this mailbox now; try again shortly") from None
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
    """One pass over the folder. Each mail is durable in new/ before it is moved or flagged on the server; a
    mail whose Message-ID or bytes were taken before is only moved or flagged."""
    result = PullResult()
    if box.after == "move":
        check_folder(conn, box.endpoint, box.processed_folder)
    for uid, size in _waiting(conn, box):
        try:
            if size > box.max_bytes:
                result.errors.append(f"UID {uid}: {size} bytes, over smtp.max_message_bytes; left on the server")
                continue
            data = _fetch(conn, uid)
            if data is None:
                continue                  # expunged meanwhile by someone else
            _take(box, spool, taken, meta, uid, data, result)
            _finish(conn, box, uid, result)
        except BROKEN as exc:
            result.errors.append(f"UID {uid}: the connection dropped ({type(exc).__name__}: {exc}); "
                                 f"the rest waits for the next run")
            log.warning("imap %s: UID %s: connection dropped: %s", box.endpoint, uid, exc)
            break
        except imaplib.IMAP4.error as exc:
            result.errors.append(f"UID {uid}: {exc}; tried again next run")
            log.warning("imap %s: UID %s: %s", box.endpoint, uid, exc)
    return result


def _waiting(conn: imaplib.IMAP4, box: Mailbox) -> list[tuple[str, int]]:
    """(UID, size) of the folder's mails not yet moved or flagged, oldest first."""
    typ, data = conn.select(quoted(box.folder))
    if typ != "OK":
        raise FolderMissing(f"imap {box.endpoint}: folder {box.folder!r} cannot be opened: {_said(data)}")
    criteria = "UNDELETED" + (f" {_unflagged(box.flag)}" if box.after == "flag" else "")
    typ, data = conn.uid("SEARCH", criteria)
    uids = data[0].split() if typ == "OK" and data and data[0] else []
    if not uids:
        return []
    typ, data = conn.uid("FETCH", b",".join(uids).decode(), "(RFC822.SIZE)")
    sizes = {}
    for part in data if typ == "OK" else []:
        uid, size = (re.search(rb"\b%s (\d+)" % key, part) if isinstance(part, bytes) else None
                     for key in (rb"UID", rb"RFC822\.SIZE"))
        if uid and size:
            sizes[uid.group(1).decode()] = int(size.group(1))
    return sorted(((u.decode(), sizes.get(u.decode(), 0)) for u in uids), key=lambda p: int(p[0]))


def _unflagged(flag: str) -> str:
    return SYSTEM_FLAGS.get(flag.upper(), f"UNKEYWORD {flag}")


def _fetch(conn: imaplib.IMAP4, uid: str) -> bytes | None:
    """The mail's bytes as stored (BODY.PEEK: \\Seen is left as it was)."""
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH refused: {_said(data)}")
    return next((part[1] for part in data if isinstance(part, tuple)), None)


def _take(box: Mailbox, spool: Spool, taken: Taken, meta: dict, uid: str, data: bytes, result: PullResult) -> None:
    sha = hashlib.sha256(data).hexdigest()
    mid = message_id(data)
    earlier = taken.item_for(mid, sha)
    if earlier and spool.find(earlier):
        result.already.append(int(uid))
        log.info("imap %s: UID %s (%s) was taken before as %s; not spooled again", box.endpoint, uid,
                 mid or sha[:12], earlier)
        return
    item_id = new_id()
    taken.add(mid, sha, item_id, uid)     # first: a crash after it is found by the next run, in the spool or not
    spool.put(data, dict(meta, source="imap", endpoint=box.endpoint, folder=box.folder, uid=int(uid),
                         message_id=mid, received_at=clock.now().isoformat()), item_id=item_id)
    result.taken.append(item_id)
    log.info("imap %s: UID %s -> spool item %s", box.endpoint, uid, item_id)


def _finish(conn: imaplib.IMAP4, box: Mailbox, uid: str, result: PullResult) -> None:
    """Move the mail to processed_folder, or flag it; a refusal only means it is seen again next run and
    skipped as taken."""
    if box.after == "flag":
        typ, data = conn.uid("STORE", uid, "+FLAGS.SILENT", f"({box.flag})")
    elif "MOVE" in conn.capabilities:
        typ, data = conn.uid("MOVE", uid, quoted(box.processed_folder))
    else:        # RFC 3501 only: copy, then mark deleted (never EXPUNGE: it would take others' deleted mails too)
        typ, data = conn.uid("COPY", uid, quoted(box.processed_folder))
        if typ == "OK":
            typ, data = conn.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
    if typ != "OK":
        result.errors.append(f"UID {uid}: spooled, but the {box.after} was refused ({_said(data)}); it will be "
                             f"seen again and skipped as taken")
        log.warning("imap %s: UID %s: %s refused: %s", box.endpoint, uid, box.after, _said(data))


def check_folder(conn: imaplib.IMAP4, endpoint: str, folder: str) -> None:
    """processed_folder must exist before anything is taken: a mail is moved there right after it is safe."""
    typ, data = conn.list('""', quoted(folder))
    if typ != "OK" or not [d for d in data if d]:
        raise FolderMissing(f"imap {endpoint}: processed_folder {folder!r} does not exist on the server; "
                            f"create it there (or set after = \"flag\")")


def _said(data) -> str:
    return " ".join(d.decode(errors="replace") if isinstance(d, bytes) else str(d) for d in data or [] if d)
