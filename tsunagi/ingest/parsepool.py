"""Parsing out of the daemon's process: worker processes with a time budget per item.

A mail is parsed in a separate process, so a slow or hostile one never holds the GIL that SMTP needs, and
the second core does the parsing. A worker that overruns its budget is killed and replaced; the item is
refused as too_slow. A worker that dies (a crash in a library) costs only that item.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from tsunagi.ingest import dkimcheck
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.ordermail import parse_order_mail, spec_for

log = logging.getLogger("tsunagi.parse")


@dataclass(frozen=True)
class Job:
    """One mail to parse: its bytes, its shop, the carts whose specs it may match, the envelope sender."""
    data: bytes
    shop: str
    carts: tuple[str, ...]
    spec_dir: str
    mail_from: str
    dkim: dkimcheck.Resolver | None = None    # verify the DKIM signature, asking this resolver for keys


@dataclass(frozen=True)
class Verified:
    """What parse_job gives for a job with dkim: the parse result, and the DKIM verdict of the mail."""
    result: object
    dkim: dict


def parse_job(job: Job):
    """The record, or a ParseError's reason dict (the same in a worker and in this process); wrapped in
    Verified when the job asks for DKIM."""
    verdict = _dkim(job) if job.dkim else None
    try:
        specs = [spec_for(cart, job.spec_dir) for cart in job.carts]
        result = parse_order_mail(job.data, job.shop, specs, job.mail_from, job.spec_dir)
    except ParseError as exc:
        result = exc.as_dict()
    return result if verdict is None else Verified(result, verdict)


def _dkim(job: Job) -> dict:
    try:
        return dkimcheck.verify(job.data, job.dkim)
    except Exception as exc:    # a mail the DKIM code cannot read is still an order: its verdict says why
        log.warning("DKIM verification failed: %s: %s", type(exc).__name__, exc)
        return {"result": "permerror", "reason": f"{type(exc).__name__}: {exc}"[:200]}


def _serve(conn: Connection) -> None:
    """A worker's life: parse what comes, send back what it made, until told to stop."""
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            conn.send(parse_job(job))
        except Exception as exc:     # a bug in a parser: reported for this item, the worker goes on
            conn.send({"stage": "parse", "kind": "error", "message": f"{type(exc).__name__}: {exc}"})


class _Worker:
    def __init__(self, context):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), name="tsunagi-parse", daemon=True)
        self.process.start()
        child.close()

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(timeout=5)
        self.conn.close()


class ParsePool:
    """A few parse workers (one per core beside the daemon's own); parse_all keeps each within its budget."""

    def __init__(self, budget_seconds: float = 10.0, size: int | None = None):
        self.budget = budget_seconds
        self.size = size or max(1, min(2, os.cpu_count() or 1))
        self.context = multiprocessing.get_context("forkserver")
        # the fork server imports the parsers once; each worker then starts as a cheap fork of it
        self.context.set_forkserver_preload(["tsunagi.ingest.parsepool"])
        self.workers: list[_Worker] = []

    def parse_all(self, jobs: list[Job]) -> list:
        """Each job's record or reason dict, in order; jobs run side by side on the workers."""
        while len(self.workers) < min(self.size, len(jobs)):
            self.workers.append(_Worker(self.context))
        results: list = [None] * len(jobs)
        pending = list(enumerate(jobs))
        busy: dict[Connection, tuple[_Worker, int, float]] = {}
        while pending or busy:
            for worker in [w for w in self.workers if w.conn not in busy]:
                if not pending:
                    break
                index, job = pending.pop(0)
                worker.conn.send(job)
                busy[worker.conn] = (worker, index, time.monotonic() + self.budget)
            self._collect(busy, results)
        return results

    def _collect(self, busy: dict, results: list) -> None:
        deadline = min(d for _, _, d in busy.values())
        for conn in wait(list(busy), timeout=max(0.0, deadline - time.monotonic())):
            worker, index, _ = busy.pop(conn)
            try:
                results[index] = conn.recv()
            except (EOFError, OSError):
                results[index] = {"stage": "parse", "kind": "crashed",
                                  "message": "the parser stopped while reading this mail (a crash in a library)"}
                self._replace(worker, kill=True)
        now = time.monotonic()
        for conn, (worker, index, deadline) in list(busy.items()):
            if deadline <= now:
                del busy[conn]
                results[index] = {"stage": "parse", "kind": "too_slow",
                                  "message": f"parsing took longer than {self.budget:g} s "
                                             f"(pipeline.parse_timeout_seconds); the mail was set aside"}
                self._replace(worker, kill=True)

    def _replace(self, worker: _Worker, kill: bool) -> None:
        worker.stop(kill=kill)
        self.workers[self.workers.index(worker)] = _Worker(self.context)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []
