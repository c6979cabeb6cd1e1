"""SFTP push: upload each ready file under a temporary name, rename it on the server, then mark it sent."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from tsunagi.outbound.delivery import Tracker

log = logging.getLogger("tsunagi.sftp")


@dataclass
class PushResult:
    sent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def push(sftp, endpoint: str, outbox: Path, remote_dir: str, pattern: str, record: Tracker) -> PushResult:
    """outbox/ready/* to remote_dir, oldest first. A file is recorded sent (and moves to outbox/sent/) only
    after the server has it under its final name; a broken connection leaves only a temporary name there."""
    result = PushResult()
    ready, sent = outbox / "ready", outbox / "sent"
    sent.mkdir(parents=True, exist_ok=True)
    files = sorted((p for p in ready.glob(pattern) if p.is_file()), key=lambda p: (p.stat().st_mtime, p.name)) \
        if ready.is_dir() else []
    for path in files:
        final = f"{remote_dir.rstrip('/')}/{path.name}"
        temporary = f"{remote_dir.rstrip('/')}/.{path.name}.part"
        try:
            sftp.put(str(path), temporary, confirm=True)   # confirm: the server's size must match
            sftp.posix_rename(temporary, final)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            result.errors.append(f"{path.name}: {exc}; it stays in ready/ and is sent on the next run")
            log.warning("sftp %s: push of %s failed: %s", endpoint, path.name, exc)
            record.failed(path, str(exc))
            break      # the connection is likely gone; keep the order of the rest
        record.sent(path, final)
        result.sent.append(path.name)
        log.info("sftp %s: sent %s", endpoint, path.name)
    return result
