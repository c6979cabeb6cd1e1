"""Pull over any protocol: list, download into the spool, then move or delete the remote file; never ingest twice."""
from __future__ import annotations

import fnmatch
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.common import clock, safetext
from tsunagi.common.durable import append_line, sha256_file
from tsunagi.common.remote import ConnectionLost, FileRefused, Remote, RemoteFile, join
from tsunagi.ingest.spool import Spool, mtime_meta, new_id

log = logging.getLogger("tsunagi.pull")


@dataclass
class PullResult:
    taken: list[str] = field(default_factory=list)       # new spool item ids
    already: list[str] = field(default_factory=list)     # remote names pulled before (move failed then)
    errors: list[str] = field(default_factory=list)


class PulledFiles:
    """What was pulled from an endpoint: (name, size, sha256), one JSON line each, fsync'd."""

    def __init__(self, path: Path):
        self.path = path
        self.keys: set[tuple[str, int, str]] = set()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    e = json.loads(line)
                    self.keys.add((e["name"], e["size"], e["sha256"]))
                except (ValueError, KeyError):
                    continue   # a line cut by a crash: the spool's sha256 check still stops a replay

    def seen(self, name: str, size: int, sha256: str) -> bool:
        return (name, size, sha256) in self.keys

    def add(self, name: str, size: int, sha256: str, item_id: str) -> None:
        line = json.dumps({"name": name, "size": size, "sha256": sha256, "item": item_id,
                           "at": clock.now().isoformat()}, ensure_ascii=False) + "\n"
        append_line(self.path, line)
        self.keys.add((name, size, sha256))


def pull(remote: Remote, remote_dir: str, pattern: str, spool: Spool, pulled: PulledFiles, meta: dict,
         after: str = "move", processed_dir: str = "") -> PullResult:
    """One pass over remote_dir. Each file is durable in new/ before the remote copy is touched."""
    result = PullResult()
    entries = sorted((f for f in remote.list(remote_dir) if fnmatch.fnmatch(f.name, pattern)),
                     key=lambda f: (f.mtime or 0, f.name))
    for entry in entries:
        path = join(remote_dir, entry.name)
        shown = safetext.printable(entry.name)
        tmp = spool.dir("tmp") / f"pull-{new_id()}.part"
        try:
            remote.get(path, tmp)
            _take(tmp, entry, path, remote.endpoint, spool, pulled, meta, result)
        except (FileRefused, ConnectionLost) as exc:
            tmp.unlink(missing_ok=True)
            gone = isinstance(exc, FileRefused) and remote.size(path) is None
            why = "it vanished from the server while it was pulled" if gone else f"{type(exc).__name__}: {exc}"
            result.errors.append(f"{remote.endpoint}: {shown}: not pulled ({why}); nothing of it was taken"
                                 + ("" if gone else ", tried again next run"))
            log.warning("%s", result.errors[-1])
            if isinstance(exc, ConnectionLost):
                break   # the connection is gone: the rest waits for the next run
            continue
        _finish(remote, path, entry.name, after, processed_dir, result)
    return result


def _take(tmp: Path, entry: RemoteFile, path: str, endpoint: str, spool: Spool, pulled: PulledFiles, meta: dict,
          result: PullResult) -> None:
    """The downloaded copy made a spool item, unless it is short or was pulled before."""
    size = tmp.stat().st_size
    if entry.size is not None and size != entry.size:
        raise FileRefused(f"downloaded {size} bytes, the server listed {entry.size}")
    sha = sha256_file(tmp)
    if pulled.seen(entry.name, size, sha):
        tmp.unlink()
        result.already.append(entry.name)
        log.info("%s: %s was pulled before; not ingested again", endpoint, safetext.printable(entry.name))
        return
    item = spool.adopt(tmp, dict(meta, source=meta.get("source", "pull"), endpoint=endpoint.split(" ", 1)[-1],
                                 file=entry.name, remote=path, **mtime_meta(entry.mtime)), ".csv")
    pulled.add(entry.name, size, sha, item.id)
    result.taken.append(item.id)
    log.info("%s: %s -> spool item %s", endpoint, safetext.printable(entry.name), item.id)


def _finish(remote: Remote, path: str, name: str, after: str, processed_dir: str, result: PullResult) -> None:
    """Move the remote file out of the way (or delete it); a failure only means it is listed again."""
    try:
        if after == "delete":
            remote.delete(path)
        else:
            remote.rename(path, join(processed_dir, name))
    except (FileRefused, ConnectionLost) as exc:
        result.errors.append(f"{remote.endpoint}: {safetext.printable(name)}: pulled, but the remote {after} failed "
                             f"({exc}); it will be listed again and skipped as already pulled")
        log.warning("%s", result.errors[-1])
