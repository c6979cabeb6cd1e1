"""Running an SFTP endpoint: pull into the spool and push from the outbox, now or on its schedule."""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from tsunagi.app.config import Config, SftpEndpoint
from tsunagi.app.schedule import next_run
from tsunagi.app.sftpconn import SftpError, session
from tsunagi.ingest.sftp_pull import PulledFiles, pull
from tsunagi.ingest.spool import Spool
from tsunagi.outbound.sftp_push import push
from tsunagi.parsers.japanese import JST

log = logging.getLogger("tsunagi.sftp")


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


class Scheduler:
    """One thread: runs each endpoint when it is due; a failure is logged and tried at the next time."""

    def __init__(self, cfg: Config, spool: Spool, on_items, stopping: threading.Event):
        self.cfg = cfg
        self.spool = spool
        self.on_items = on_items
        self.stopping = stopping
        start = datetime.now(JST)
        self.due = {ep.name: next_run(start, ep.every_minutes, ep.at) for ep in cfg.sftp}

    def run(self) -> None:
        while not self.stopping.is_set():
            now = datetime.now(JST)
            for ep in self.cfg.sftp:
                when = self.due.get(ep.name)
                if when is not None and when <= now:
                    self.run_one(ep)
                    self.due[ep.name] = next_run(datetime.now(JST), ep.every_minutes, ep.at)
            self.stopping.wait(1.0)

    def run_one(self, ep: SftpEndpoint) -> dict | None:
        try:
            out = run_endpoint(self.cfg, self.spool, ep)
        except SftpError as exc:
            log.error("%s", exc)
            return None
        except Exception:
            log.exception("sftp %s: unexpected error", ep.name)
            return None
        if out.get("pulled"):
            self.on_items(out["pulled"])
        return out
