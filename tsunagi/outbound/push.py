"""Push: each ready file to an endpoint of any protocol, whole or not at all, in order; then it is sent."""
from __future__ import annotations

import fcntl
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tsunagi.common import clock
from tsunagi.common.durable import fsync_dir, replace_whole
from tsunagi.common.remote import (
    ConnectionLost,
    FileRefused,
    Remote,
    join,
    put_whole,
    same_bytes,
    temporary_name,
)
from tsunagi.outbound.channelrules import NONE, ChannelRules, Rule
from tsunagi.outbound.delivery import Tracker

log = logging.getLogger("tsunagi.push")
INFLIGHT = "inflight.txt"        # the upload under way: final remote path, local name, rename or not
WAITING = "waiting.txt"          # files held back and why: name, since, reason (one line each)


@dataclass
class PushResult:
    sent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)     # outbox name -> why it waits in ready/


@contextmanager
def pushing(outbox: Path) -> Iterator[None]:
    """One push of a target's outbox at a time, across the daemon's workers and a `tsunagi sftp run`."""
    outbox.mkdir(parents=True, exist_ok=True)
    with open(outbox / "push.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def push(remote: Remote, outbox: Path, remote_dir: str, pattern: str = "*", rules: ChannelRules = NONE,
         record: Tracker | None = None) -> PushResult:
    """outbox/ready/* to remote_dir, oldest first. A file moves to outbox/sent/ only once the server has it
    whole under its final name. A channel that consumes uploads gets no file over one it has not read yet:
    that file waits in ready/ with its reason. The first failure ends the run, so the order is kept."""
    result = PushResult()
    (outbox / "sent").mkdir(parents=True, exist_ok=True)
    held: set[str] = set()            # remote names holding an upload the channel has not read
    try:
        _resume(remote, outbox, result, record)
        for path in ready_files(outbox, pattern):
            rule = rules.rule(path.name)
            final = join(remote_dir, rule.remote_name)
            if rule.consumed and (final in held or remote.size(final) is not None):
                held.add(final)
                result.waiting[path.name] = (f"the previous {rule.remote_name} is still on {remote.endpoint}, not "
                                             f"yet read by the channel; this file waits in ready/ (never overwritten)")
                continue
            _upload(remote, outbox, path, final, rule)
            delivered(outbox, path, remote.endpoint, result, record, final)
    except (FileRefused, ConnectionLost) as exc:
        name = getattr(exc, "outbox_name", "")
        if record and name:
            record.failed(outbox / "ready" / name, str(exc))
        result.errors.append(f"{remote.endpoint}: {name + ': ' if name else ''}not sent ({exc}); it stays in ready/ "
                             f"and is sent on the next run")
        log.warning("%s", result.errors[-1])
    _note_waiting(outbox, result.waiting)
    return result


def ready_files(outbox: Path, pattern: str = "*") -> list[Path]:
    ready = outbox / "ready"
    if not ready.is_dir():
        return []
    return sorted((p for p in ready.glob(pattern) if p.is_file()), key=lambda p: (p.stat().st_mtime, p.name))


def _upload(remote: Remote, outbox: Path, path: Path, final: str, rule: Rule) -> None:
    """put_whole, with a note of it kept until it is done: a run cut off part-way is finished by the next.
    The note is not fsync'd (it costs more than the upload of a small file): it outlives a killed process,
    and what a power cut could lose of it is a leftover temporary name, or the same bytes sent again."""
    (outbox / INFLIGHT).write_text(f"{final}\t{path.name}\t{int(rule.rename)}\n", encoding="utf-8")
    try:
        put_whole(remote, path, final, rule.rename)
    except (FileRefused, ConnectionLost) as exc:
        exc.outbox_name = path.name
        raise


def delivered(outbox: Path, path: Path, endpoint: str, result: PushResult, record: Tracker | None = None,
              final: str = "") -> None:
    """The one moment a file is known to be on the server whole under its final name: it is recorded sent (the
    store's record is the truth; its orders' confirmations close) and moves to sent/."""
    if record:
        record.sent(path, final)
    else:
        try:
            os.rename(path, outbox / "sent" / path.name)
            fsync_dir(outbox / "sent")
        except FileNotFoundError:
            pass     # merged into a newer file meanwhile (feeds): that one goes next, holding these figures too
    (outbox / INFLIGHT).unlink(missing_ok=True)
    result.sent.append(path.name)
    log.info("%s: sent %s", endpoint, path.name)


def _resume(remote: Remote, outbox: Path, result: PushResult, record: Tracker | None) -> None:
    """An upload whose end was not seen: delivered if the server holds its bytes, else cleared away (the
    temporary name; under the final name only a half file of its own) and sent again."""
    try:
        final, name, rename = (outbox / INFLIGHT).read_text(encoding="utf-8").rstrip("\n").split("\t")
    except (FileNotFoundError, ValueError):
        return
    path = outbox / "ready" / name
    if path.exists() and same_bytes(remote, final, path):
        log.info("%s: %s was on the server already (the answer to its upload was lost)", remote.endpoint, name)
        delivered(outbox, path, remote.endpoint, result, record, final)
        return
    if path.exists() or not (outbox / "sent" / name).exists():
        # Not there whole, or merged into a newer file meanwhile (whose figures it holds): what it left goes.
        for leftover in [temporary_name(final)] + ([] if rename == "1" else [final]):
            if remote.size(leftover) is not None:
                remote.delete(leftover)
    (outbox / INFLIGHT).unlink(missing_ok=True)


def _note_waiting(outbox: Path, waiting: dict[str, str]) -> None:
    """waiting.txt: what waits and why, for the operator (`tsunagi sftp run`, alerts); since when is kept."""
    before = waiting_reasons(outbox)
    if not waiting and not before:
        return
    now = clock.now().isoformat(timespec="seconds")
    lines = [f"{name}\t{before.get(name, (now, ''))[0]}\t{why}\n" for name, why in waiting.items()]
    replace_whole(outbox / WAITING, "".join(lines).encode("utf-8"))


def waiting_reasons(outbox: Path) -> dict[str, tuple[str, str]]:
    """Files of outbox/ready/ a push held back: name -> (since, reason)."""
    try:
        text = (outbox / WAITING).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return {p[0]: (p[1], p[2]) for line in text.splitlines() if len(p := line.split("\t", 2)) == 3}
