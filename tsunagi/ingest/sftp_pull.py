"""SFTP pull: list, download into the spool, then move or delete the remote file; never ingest twice."""
from __future__ import annotations

import fnmatch
import json
import logging
import stat
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from tsunagi.common import clock
from tsunagi.common.durable import append_line, sha256_file
from tsunagi.ingest.spool import Spool, mtime_meta, new_id

log = logging.getLogger("tsunagi.sftp")


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


def pull(sftp, endpoint: str, remote_dir: str, pattern: str, spool: Spool, pulled: PulledFiles, meta: dict,
         after: str = "move", processed_dir: str = "") -> PullResult:
    """One pass over remote_dir. Each file is durable in new/ before the remote copy is touched."""
    result = PullResult()
    entries = sorted((a for a in sftp.listdir_attr(remote_dir)
                      if stat.S_ISREG(a.st_mode or 0) and fnmatch.fnmatch(a.filename, pattern)),
                     key=lambda a: (a.st_mtime or 0, a.filename))
    for attr in entries:
        remote = f"{remote_dir.rstrip('/')}/{attr.filename}"
        tmp = spool.dir("tmp") / f"sftp-{new_id()}.part"
        try:
            sftp.get(remote, str(tmp))
            size = tmp.stat().st_size
            if size != attr.st_size:
                raise OSError(f"downloaded {size} bytes, the server listed {attr.st_size}; tried again next run")
            sha = sha256_file(tmp)
            if pulled.seen(attr.filename, size, sha):
                tmp.unlink()
                result.already.append(attr.filename)
                log.info("sftp %s: %s was pulled before; not ingested again", endpoint, attr.filename)
            else:
                item = spool.adopt(tmp, dict(meta, source="sftp", endpoint=endpoint, file=attr.filename,
                                             remote=remote, **mtime_meta(attr.st_mtime)), ".csv")
                pulled.add(attr.filename, size, sha, item.id)
                result.taken.append(item.id)
                log.info("sftp %s: %s -> spool item %s", endpoint, attr.filename, item.id)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            tmp.unlink(missing_ok=True)
            result.errors.append(f"{attr.filename}: not pulled ({type(exc).__name__}: {exc}); tried again next run")
            log.warning("sftp %s: %s not pulled: %s", endpoint, attr.filename, exc)
            if not isinstance(exc, OSError) or not sftp.get_channel().get_transport().is_active():
                break   # the connection is gone: the rest waits for the next run
            continue
        _finish(sftp, endpoint, remote, attr.filename, after, processed_dir, result)
    return result


def _finish(sftp, endpoint: str, remote: str, name: str, after: str, processed_dir: str, result: PullResult) -> None:
    """Move the remote file out of the way (or delete it); a failure only means it is listed again."""
    try:
        if after == "delete":
            sftp.remove(remote)
        else:
            sftp.posix_rename(remote, f"{processed_dir.rstrip('/')}/{name}")
    except (OSError, EOFError, paramiko.SSHException) as exc:
        result.errors.append(f"{name}: pulled, but the remote {after} failed ({exc}); it will be listed again "
                             f"and skipped as already pulled")
        log.warning("sftp %s: %s: remote %s failed: %s", endpoint, name, after, exc)
