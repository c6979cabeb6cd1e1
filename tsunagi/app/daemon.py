"""The daemon: recovery at start-up, then SMTP intake in the event loop and the runners in their threads."""
from __future__ import annotations

import asyncio
import logging
import queue
import signal
import threading

from tsunagi.app import access, console, wiring
from tsunagi.app.config import Config
from tsunagi.app.heartbeat import Heartbeat
from tsunagi.app.runlock import take_lock
from tsunagi.app.runners import (
    DropRunner,
    FeedRunner,
    FileRunner,
    LotRunner,
    MailRunner,
    PipelineRunner,
    SpecRunner,
    UnpaidRunner,
)
from tsunagi.app.transfers import ImmediatePush, Scheduler
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.dropwatch import DropFolders
from tsunagi.ingest.lots import TableWatch
from tsunagi.ingest.smtp import FlowDelay, IntakeHandler, make_server
from tsunagi.ingest.smtpguard import SessionLimits, quiet_accept_errors
from tsunagi.outbound import csvfile, delivery
from tsunagi.outbound.mailer import recover as mailer_recover

log = logging.getLogger("tsunagi.daemon")


class Daemon:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.stopping = threading.Event()
        self.items: queue.Queue[list[str] | None] = queue.Queue()
        self.files: queue.Queue = queue.Queue()        # claimed CSV items, for the file worker
        self.stock_changed = threading.Event()
        self.ready = threading.Event()
        self.port = cfg.smtp_port
        self.console = None
        self.web_port: int | None = None

    async def serve(self) -> None:
        cfg = self.cfg
        lock = take_lock(cfg.data_dir)
        spool, store, pipeline = wiring.open_parts(cfg, workers=True)
        recovered = spool.recover(max_tmp_age=0)
        with store.transaction() as tx:
            recovered.update(csvfile.recover_pending(tx, spool.dir("outbox")))
        recovered.update(delivery.recover(store, spool.dir("outbox")))
        log.info("start-up recovery: %s", recovered)
        if recovered.get("interrupted_imports"):     # theirs to finish: applied here they would come after newer files
            log.warning("%d interrupted `tsunagi import` runs wait in spool/cur/: the next `tsunagi import` finishes "
                        "them (or --abandon-interrupted sets them aside)", recovered["interrupted_imports"])
        handler = IntakeHandler(spool, lambda a: (s.id if (s := cfg.shop_for_recipient(a)) else None),
                                self.items.put, senders=access.sender_rules(cfg),
                                flow=FlowDelay(self.items.qsize, seconds=cfg.file.smtp.in_flow_delay_seconds))
        quiet_accept_errors(asyncio.get_running_loop())
        limits = SessionLimits.of(cfg.file.smtp)
        options = access.smtp_options(cfg)
        try:
            server = await asyncio.get_running_loop().create_server(
                make_server(handler, cfg.max_message_bytes, limits, options), cfg.smtp_host, cfg.smtp_port)
        except OSError as exc:
            pipeline.close()
            store.close()
            lock.close()
            raise TsunagiError(f"cannot listen on {cfg.smtp_host}:{cfg.smtp_port} ({exc.strerror or exc}): another "
                               f"program uses that port; stop it, or change smtp.listen") from None
        self.port = server.sockets[0].getsockname()[1]
        try:
            self.console = console.console(cfg, store, self.stock_changed)
        except TsunagiError:
            server.close()
            pipeline.close()
            store.close()
            lock.close()
            raise
        self.web_port = self.console.port if self.console else None
        drops = DropFolders(spool, cfg.drop_targets(), self.items.put, cfg.drop_stable_seconds)
        taken = drops.take_all()      # dropped while we were down: complete by now
        log.info("start-up: %d dropped files taken", len(taken))
        drops.start()
        alerts = wiring.alerts(cfg, store, spool.dir("outbox"))
        mailer = wiring.mailer(cfg, store)
        if mailer:
            uncertain = mailer_recover(store)
            if uncertain:
                log.warning("%d buyer mails left uncertain by a crash: tsunagi mail log --uncertain", uncertain)
        scheduler = Scheduler(cfg, spool, store, self.items.put, self.stopping, alerts)
        self.scheduler = scheduler
        pipeline.hand_off = self.files.put
        stop = self.stopping
        self.runners = [PipelineRunner(stop, pipeline, self.items, self.stock_changed),
                        FileRunner(stop, pipeline, self.files, self.stock_changed),
                        FeedRunner(stop, wiring.feed_writer(cfg, spool, store), wiring.confirm_writer(cfg, spool, store),
                                   self.stock_changed, cfg.feed_coalesce_ms / 1000, cfg.feed_full_every_hours),
                        DropRunner(stop, drops), scheduler, MailRunner(stop, mailer, alerts),
                        UnpaidRunner(stop, lambda: wiring.timed_moves(cfg, store), self.stock_changed),
                        SpecRunner(stop, lambda: wiring.spec_switches(cfg, spool, store, pipeline.watch), self.items)]
        if any(s.lot_table for s in cfg.shops):
            self.runners.append(LotRunner(stop, TableWatch(store, {s.id: s.lot_table for s in cfg.shops if s.lot_table}),
                                          self.stock_changed))
        if any(ep.push and ep.push.immediate for ep in cfg.endpoints):
            self.runners.append(ImmediatePush(scheduler, stop))
        for runner in self.runners:       # a worker failing for long is reported to the operator
            runner.alerts = alerts
        threads = [r.thread() for r in self.runners]
        for t in threads:
            t.start()
        log.info("tsunagi listening on %s:%d for %d shops", cfg.smtp_host, self.port, len(cfg.shops))
        if self.console:
            await self.console.start()
        self.ready.set()
        beat = asyncio.create_task(Heartbeat(self).run())     # data_dir/status.json, for tsunagi status
        try:
            while not self.stopping.is_set():
                await asyncio.sleep(0.2)
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            if self.console:
                await self.console.stop()
            server.close()
            await server.wait_closed()
            drops.stop()
            self.items.put(None)
            self.files.put(None)
            for t in threads:
                t.join(timeout=10)
            pipeline.close()
            store.close()
            lock.close()

    def stop(self) -> None:
        self.stopping.set()


def run_forever(cfg: Config) -> None:
    daemon = Daemon(cfg)

    async def main():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, daemon.stop)
        await daemon.serve()

    asyncio.run(main())


def start_in_thread(cfg: Config) -> tuple[Daemon, threading.Thread]:
    """For the demo and tests that want the daemon in-process: returns once it listens."""
    daemon = Daemon(cfg)
    errors: list[BaseException] = []

    def run():
        try:
            asyncio.run(daemon.serve())
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)
            daemon.ready.set()

    thread = threading.Thread(target=run, name="tsunagi-daemon", daemon=True)
    thread.start()
    daemon.ready.wait(30)
    if errors:
        raise errors[0]
    return daemon, thread
