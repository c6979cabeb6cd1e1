"""Running an endpoint of any protocol (pull into the spool, push from the outbox) and reading an IMAP mailbox:
now, on their schedules, or (push.immediate) as soon as a file is ready."""
from __future__ import annotations

import logging
import threading
import time

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from tsunagi.app.config import Config, ImapEndpoint
from tsunagi.app.imapintake import run_mailbox
from tsunagi.app.runner import Runner
from tsunagi.app.schedule import next_run
from tsunagi.common import clock
from tsunagi.common.endpoints import open_remote
from tsunagi.common.errors import TsunagiError
from tsunagi.common.remote import ConnectionLost, FileRefused, TransferError
from tsunagi.ingest.pull import PulledFiles, pull
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store
from tsunagi.outbound import channelrules, labels, wms
from tsunagi.outbound.delivery import Tracker
from tsunagi.outbound.push import push, pushing, ready_files

log = logging.getLogger("tsunagi.transfer")
RECHECK_SECONDS = 30.0     # an immediate endpoint looks again this often without news (a file waiting its turn)
imap_log = logging.getLogger("tsunagi.imap")


def label(ep) -> str:
    """How messages and alerts name an endpoint: "FTPS rms"."""
    return f"{ep.protocol.upper()} {ep.name}"


def run_endpoint(cfg: Config, spool: Spool, ep, store: Store | None = None, do_pull: bool = True,
                 do_push: bool = True) -> dict:
    """One pull and/or push; returns what happened. Raises TransferError when it cannot connect or log in."""
    out: dict = {"endpoint": ep.name}
    record = Tracker(store or Store(cfg.db_path), ep.name)
    with open_remote(ep) as remote:
        for wanted, part, errors in ((ep.pull and do_pull, _pull, "pull_errors"),
                                     (ep.push and do_push, _push, "push_errors")):
            if not wanted:
                continue
            try:
                part(cfg, spool, ep, remote, out, record)
            except (FileRefused, ConnectionLost) as exc:    # its listing failed: nothing was taken or sent
                out.setdefault(errors, []).append(f"{remote.endpoint}: {exc}; tried again next run")
    out["closed"] = record.closed
    return out


def _pull(cfg: Config, spool: Spool, ep, remote, out: dict, record: Tracker) -> None:
    p = ep.pull
    state = cfg.data_dir / "sftp"          # the record of pulled files, under the name it has always had
    state.mkdir(parents=True, exist_ok=True)
    meta = {"kind": "csv", "shop": p.into, "source": ep.protocol, **({"layout": p.layout} if p.layout else {})}
    result = pull(remote, p.remote_dir, p.pattern, spool, PulledFiles(state / f"{ep.name}.pulled"), meta, p.after,
                  p.processed_dir)
    out["pulled"], out["already_pulled"], out["pull_errors"] = result.taken, result.already, result.errors


def _push(cfg: Config, spool: Spool, ep, remote, out: dict, record: Tracker) -> None:
    outbox = spool.dir("outbox") / ep.push.source
    rules = channelrules.load(ep.push.channel, cfg.csv_layout_dirs)
    with pushing(outbox):
        record.settle(outbox)       # a file recorded sent before a stop is not uploaded again
        result = push(remote, outbox, ep.push.remote_dir, ep.push.pattern, rules, record)
    out["sent"], out["push_errors"], out["waiting"] = result.sent, result.errors, result.waiting


class JobFailed(Exception):
    """A scheduled job that could not do its work (already logged and alerted)."""


class Scheduler(Runner):
    """One thread: runs each endpoint, IMAP mailbox, carrier label export and warehouse exchange when due; a
    failure is logged and tried again at the next time."""

    name = "schedule"

    def __init__(self, cfg: Config, spool: Spool, store: Store, on_items, stopping: threading.Event, alerts=None):
        super().__init__(stopping)
        self.alerts = alerts
        self.cfg = cfg
        self.spool = spool
        self.store = store
        self.on_items = on_items
        self.jobs = [(job_name(ep), ep.every_minutes, ep.at, lambda ep=ep: self.run_one(ep)) for ep in cfg.endpoints]
        self.jobs += [(f"imap:{box.name}", box.every_minutes, box.at, lambda box=box: self.read_mailbox(box))
                      for box in cfg.imap]
        self.jobs += [(f"labels:{c.name}", c.every_minutes, c.at, lambda c=c: self.export(c.name))
                      for c in cfg.carriers]
        self.jobs += [(f"wms:{w.name}", w.every_minutes, w.at, lambda w=w: self.instruct(w.name))
                      for w in cfg.warehouses]
        start = clock.now()
        self.due = {name: next_run(start, every, at) for name, every, at, _ in self.jobs}
        self.outcomes: dict[str, dict] = {}        # job name -> last_success, last_failure, last_error, failing

    def run_once(self) -> bool:
        for name, every, at, job in self.jobs:
            when = self.due.get(name)
            if when is not None and when <= clock.now():
                self.run_job(name, job)
                self.due[name] = next_run(clock.now(), every, at)
        return False

    def run_job(self, name: str, job) -> None:
        try:
            job()
            self._ran(name, "")
        except JobFailed as exc:       # said and alerted where it happened
            self._ran(name, str(exc))
        except Exception as exc:      # one job's failure neither stops nor delays the others
            log.exception("%s: unexpected error", name)
            self._ran(name, f"{type(exc).__name__}: {exc}")

    def _ran(self, name: str, error: str) -> None:
        """What tsunagi status shows of a job: its last success, its last failure and why."""
        record = self.outcomes.setdefault(name, {})
        record["last_failure" if error else "last_success"] = clock.now().isoformat(timespec="seconds")
        record["failing"] = bool(error)
        if error:
            record["last_error"] = error

    def instruct(self, name: str) -> None:
        result = wms.send(self.store, self.spool.dir("outbox"), self.cfg.wms(name), self.cfg.layouts)
        for held in result.held:
            log.warning("wms %s: order held: %s", name, held)

    def export(self, carrier: str) -> None:
        result = labels.export(self.store, self.spool.dir("outbox"), self.cfg.carrier(carrier), self.cfg.layouts)
        for held in result.held:
            log.warning("labels %s: order held: %s", carrier, held)

    def run_one(self, ep, do_pull: bool = True) -> dict:
        """The endpoint's run; a refusal, or a file that could not be moved, is alerted once it lasts."""
        try:
            out = run_endpoint(self.cfg, self.spool, ep, self.store, do_pull=do_pull)
        except TransferError as exc:
            log.error("%s", exc)
            self._alert(ep, str(exc))
            raise JobFailed(str(exc)) from None
        errors = out.get("pull_errors", []) + out.get("push_errors", [])
        self._alert(ep, "\n".join(errors))
        if out.get("pulled"):
            self.on_items(out["pulled"])
        if errors:
            raise JobFailed(errors[0])
        return out

    def _alert(self, ep, error: str) -> None:
        if self.alerts:
            if error:
                self.alerts.failed(label(ep), error, f"tsunagi endpoint run {ep.name}")
            else:
                self.alerts.recovered(label(ep))


    def read_mailbox(self, box: ImapEndpoint) -> dict:
        """A pass that cannot reach or read the mailbox is one log line, and an alert once it lasts; mails a
        pass could not finish are tried again at the next."""
        try:
            out = run_mailbox(self.cfg, self.spool, box)
        except TsunagiError as exc:
            imap_log.error("%s", exc)
            if self.alerts:
                self.alerts.failed(f"IMAP {box.name}", str(exc), f"tsunagi imap run {box.name}")
            raise JobFailed(str(exc)) from None
        if out["pulled"]:
            self.on_items(out["pulled"])
        if out["pull_errors"]:
            problems = "; ".join(out["pull_errors"])
            imap_log.warning("imap %s: %s", box.name, problems)
            if self.alerts:
                self.alerts.failed(f"IMAP {box.name}", problems, f"tsunagi imap run {box.name}")
            raise JobFailed(problems)
        if self.alerts:
            self.alerts.recovered(f"IMAP {box.name}")
        return out

def job_name(ep) -> str:
    return f"{ep.protocol}:{ep.name}"


class _Wake(FileSystemEventHandler):
    def __init__(self, event: threading.Event):
        self.event = event

    def on_any_event(self, event) -> None:
        self.event.set()


class ImmediatePush(Runner):
    """push.immediate: watches each such endpoint's spool/outbox/SOURCE/ready/ and pushes as soon as a file
    arrives (and every RECHECK_SECONDS, for a file waiting its turn on a consuming channel)."""

    name = "push"

    def __init__(self, scheduler: Scheduler, stopping: threading.Event):
        super().__init__(stopping)
        self.scheduler = scheduler
        self.endpoints = [ep for ep in scheduler.cfg.endpoints if ep.push and ep.push.immediate]
        self.wake = threading.Event()
        self.observer = None
        self.last_look = 0.0

    def run_once(self) -> bool:
        if self.observer is None:
            self._watch()
        woken = self.wake.wait(1.0)      # the daemon's stopping is seen within a second
        if self.stopping.is_set():
            self.observer.stop()
            return False
        if woken or time.monotonic() - self.last_look >= RECHECK_SECONDS:
            self.wake.clear()
            self.last_look = time.monotonic()
            self._push_ready()
        return True

    def _watch(self) -> None:
        self.observer = Observer()
        for ep in self.endpoints:
            ready = self.scheduler.spool.dir("outbox") / ep.push.source / "ready"
            ready.mkdir(parents=True, exist_ok=True)
            self.observer.schedule(_Wake(self.wake), str(ready), recursive=False)
        self.observer.daemon = True
        self.observer.start()
        self.wake.set()                   # what was ready before the daemon started goes now

    def _push_ready(self) -> None:
        for ep in self.endpoints:
            if ready_files(self.scheduler.spool.dir("outbox") / ep.push.source, ep.push.pattern):
                self.scheduler.run_job(job_name(ep), lambda ep=ep: self.scheduler.run_one(ep, do_pull=False))
