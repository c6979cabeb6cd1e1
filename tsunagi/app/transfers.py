"""Running an SFTP endpoint (pull into the spool, push from the outbox) and reading an IMAP mailbox, now or on
their schedules."""
from __future__ import annotations

import logging
import threading

from tsunagi.app import wiring
from tsunagi.app.config import Config, ImapEndpoint, SftpEndpoint
from tsunagi.app.imapintake import run_mailbox
from tsunagi.app.runner import Runner
from tsunagi.app.schedule import next_run
from tsunagi.common import clock
from tsunagi.common.errors import TsunagiError
from tsunagi.common.sftp import SftpError, session
from tsunagi.ingest.sftp_pull import PulledFiles, pull
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store
from tsunagi.outbound import labels, wms
from tsunagi.outbound.sftp_push import push

log = logging.getLogger("tsunagi.sftp")
imap_log = logging.getLogger("tsunagi.imap")


def run_endpoint(cfg: Config, spool: Spool, ep: SftpEndpoint) -> dict:
    """One pull and/or push; returns what happened. Raises SftpError when it cannot connect."""
    out: dict = {"endpoint": ep.name}
    with session(ep) as sftp:
        if ep.pull:
            p = ep.pull
            state = cfg.data_dir / "sftp"
            state.mkdir(parents=True, exist_ok=True)
            meta = {"kind": "csv", "shop": p.into, **({"layout": p.layout} if p.layout else {})}
            result = pull(sftp, ep.name, p.remote_dir, p.pattern, spool, PulledFiles(state / f"{ep.name}.pulled"),
                          meta, p.after, p.processed_dir)
            out["pulled"], out["already_pulled"], out["pull_errors"] = result.taken, result.already, result.errors
        if ep.push:
            result = push(sftp, ep.name, spool.dir("outbox") / ep.push.source, ep.push.remote_dir, ep.push.pattern)
            out["sent"], out["push_errors"] = result.sent, result.errors
    return out


class JobFailed(Exception):
    """A scheduled job that could not do its work (already logged and alerted)."""


class Scheduler(Runner):
    """One thread: runs each SFTP endpoint, IMAP mailbox, carrier label export and warehouse exchange when due; a
    failure is logged and tried again at the next time."""

    name = "schedule"

    def __init__(self, cfg: Config, spool: Spool, store: Store, on_items, stopping: threading.Event, alerts=None):
        super().__init__(stopping)
        self.alerts = alerts
        self.cfg = cfg
        self.spool = spool
        self.store = store
        self.on_items = on_items
        self.jobs = [(f"sftp:{ep.name}", ep.every_minutes, ep.at, lambda ep=ep: self.run_one(ep)) for ep in cfg.sftp]
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
                try:
                    job()
                    self._ran(name, "")
                except JobFailed as exc:       # said and alerted where it happened
                    self._ran(name, str(exc))
                except Exception as exc:      # one job's failure neither stops nor delays the others
                    log.exception("%s: unexpected error", name)
                    self._ran(name, f"{type(exc).__name__}: {exc}")
                self.due[name] = next_run(clock.now(), every, at)
        return False

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

    def run_one(self, ep: SftpEndpoint) -> dict:
        try:
            out = run_endpoint(self.cfg, self.spool, ep)
        except SftpError as exc:
            log.error("%s", exc)
            if self.alerts:
                self.alerts.failed(f"SFTP {ep.name}", str(exc), f"tsunagi sftp run {ep.name}")
            raise JobFailed(str(exc)) from None
        if self.alerts:
            self.alerts.recovered(f"SFTP {ep.name}")
        if out.get("pulled"):
            self.on_items(out["pulled"])
        if out.get("sent"):
            wiring.confirmations_sent(self.store, out["sent"])
        return out

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
