"""The daemon's heartbeat: data_dir/status.json, rewritten every few seconds from the event loop.

Why a file and not a socket: `tsunagi status` must answer when the daemon is frozen or dead, and a file
says both (its beat stops), needs no listener that could itself hang, and is read with the permissions
of the data folder. It is written from the asyncio loop that answers SMTP, so a beat proves that loop
runs; the write itself (fsync'd, renamed into place by durable.replace_whole) happens in a thread so
the loop never waits on the disk. When systemd started us with Type=notify (NOTIFY_SOCKET is set), the
same beat tells it READY=1 once and WATCHDOG=1 each time: a frozen loop is restarted by WatchdogSec.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ValidationError

from tsunagi.common import clock
from tsunagi.common.durable import replace_whole

log = logging.getLogger("tsunagi.heartbeat")
BEAT_SECONDS = 2.0        # how often status.json is rewritten
STALE_SECONDS = 30.0      # a beat older than this: the daemon is frozen or gone
FILE = "status.json"


class Worker(BaseModel):
    name: str
    state: str                      # ok, failing, stopped
    failing_since: str | None = None
    failing_seconds: float | None = None
    last_error: str = ""


class Job(BaseModel):
    """A scheduled transfer or export and how its runs went since the daemon started."""
    name: str
    next_run: str | None = None
    last_success: str | None = None
    last_failure: str | None = None
    last_error: str = ""            # why the last failure failed (kept after a success, for the record)
    failing: bool = False           # the last run failed


class Relay(BaseModel):
    configured: bool = False
    failing_since: str | None = None


class Beat(BaseModel):
    state: str                      # running, stopped
    pid: int
    started_at: str
    heartbeat_at: str
    heartbeat_unix: float           # real time (not the settable clock): what staleness is measured with
    smtp: str
    workers: list[Worker] = []
    schedules: list[Job] = []
    relay: Relay = Relay()


def since(epoch: float | None) -> tuple[str | None, float | None]:
    """A time.time() moment as the tsunagi clock shows it, and the seconds since."""
    if epoch is None:
        return None, None
    seconds = max(0.0, time.time() - epoch)
    return (clock.now() - timedelta(seconds=seconds)).isoformat(timespec="seconds"), round(seconds, 1)


def worker(runner) -> Worker:
    """A runner's state, read off the runner."""
    at, seconds = since(runner.failing_since)
    state = "stopped" if not runner.alive() else "failing" if runner.failing_since is not None else "ok"
    return Worker(name=runner.name, state=state, failing_since=at, failing_seconds=seconds,
                  last_error=runner.last_error)


def schedules(daemon) -> list[Job]:
    scheduler = getattr(daemon, "scheduler", None)
    if scheduler is None:
        return []
    out = []
    for name, *_ in scheduler.jobs:
        due = scheduler.due.get(name)
        record = dict(scheduler.outcomes.get(name, {}))
        out.append(Job(name=name, next_run=due.isoformat(timespec="seconds") if due else None, **record))
    return out


def relay(daemon) -> Relay:
    mailer = next((r.mailer for r in getattr(daemon, "runners", []) if getattr(r, "mailer", None)), None)
    return Relay(configured=mailer is not None, failing_since=since(mailer and mailer.failing_since)[0])


class Heartbeat:
    """Publishes the daemon's state; start it once the daemon listens, stop it on the way out."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.path = Path(daemon.cfg.data_dir) / FILE
        self.started_at = clock.now().isoformat(timespec="seconds")
        self.notify = Notifier(os.environ.get("NOTIFY_SOCKET", ""))
        self.failing = ""

    def beat(self, state: str = "running") -> Beat:
        d = self.daemon
        return Beat(state=state, pid=os.getpid(), started_at=self.started_at,
                    heartbeat_at=clock.now().isoformat(timespec="seconds"), heartbeat_unix=time.time(),
                    smtp=f"{d.cfg.smtp_host}:{d.port}", workers=[worker(r) for r in getattr(d, "runners", [])],
                    schedules=schedules(d), relay=relay(d))

    async def run(self) -> None:
        """Until cancelled: a beat, then BEAT_SECONDS; the last word (state stopped) is written on the way out."""
        try:
            while True:
                await asyncio.to_thread(self.write, self.beat())
                self.notify.send("READY=1\nWATCHDOG=1")
                await asyncio.sleep(BEAT_SECONDS)
        finally:
            self.write(self.beat("stopped"))

    def write(self, beat: Beat) -> None:
        try:
            replace_whole(self.path, beat.model_dump_json(indent=2).encode())
            self.failing = ""
        except OSError as exc:        # a full disk must not stop the beat that tells systemd we live
            if str(exc) != self.failing:
                log.error("cannot write %s: %s", self.path, exc)
            self.failing = str(exc)


class Notifier:
    """sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, nothing when it is not set."""

    def __init__(self, address: str):
        self.address = "\0" + address[1:] if address.startswith("@") else address

    def send(self, text: str) -> None:
        if not self.address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(text.encode(), self.address)
        except OSError as exc:
            log.warning("cannot notify systemd: %s", exc)


def read(data_dir: Path) -> Beat | None:
    """The last beat written; None when there is none or it cannot be read."""
    try:
        return Beat.model_validate_json((Path(data_dir) / FILE).read_bytes())
    except (OSError, ValidationError):
        return None


def age(beat: Beat) -> float:
    """Seconds since the beat, in real time."""
    return max(0.0, time.time() - beat.heartbeat_unix)

