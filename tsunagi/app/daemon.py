"""The daemon: recovery at start-up, then SMTP intake, the pipeline and the stock feeds together."""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import signal
import threading
from pathlib import Path

from tsunagi.app import notifyflow, shipflow
from tsunagi.app.config import Config
from tsunagi.app.transfers import Scheduler
from tsunagi.ingest.csvimport import CsvImporter
from tsunagi.ingest.dropwatch import DropFolders
from tsunagi.ingest.pipeline import Pipeline
from tsunagi.ingest.smtp import IntakeHandler, make_server
from tsunagi.ingest.spool import Spool
from tsunagi.oms import stock
from tsunagi.oms.store import Store
from tsunagi.outbound import csvfile
from tsunagi.outbound.feeds import FeedTarget, FeedWriter
from tsunagi.outbound.mailer import recover as mailer_recover

log = logging.getLogger("tsunagi.daemon")
RESCAN_SECONDS = 2.0     # new/ is rescanned for items other processes put there
FEED_POLL_SECONDS = 0.5  # stock changed by other processes (imports) is noticed within this
MAIL_POLL_SECONDS = 1.0  # queued buyer mails are looked for this often


class AlreadyRunning(Exception):
    pass


def take_lock(data_dir: Path):
    """One daemon per data dir; the lock goes with the process, even on SIGKILL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(data_dir / "tsunagi.lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise AlreadyRunning(f"another tsunagi daemon is running on {data_dir}") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def open_parts(cfg: Config) -> tuple[Spool, Store, Pipeline]:
    spool = Spool(cfg.spool_dir)
    store = Store(cfg.db_path, cfg.store_synchronous)
    with store.transaction() as tx:
        stock.set_locations(tx, cfg.locations)
    notifyflow.sync_stages(cfg, store)
    pipeline = Pipeline(spool, store, {s.id: s.mail_specs for s in cfg.shops}, cfg.spec_dir,
                        csv=CsvImporter(spool, store, cfg.csv_layouts_for),
                        after=lambda: shipflow.ready_orders(cfg, store))
    alerts = notifyflow.alerts(cfg, store, spool.dir("outbox"))
    if alerts:
        pipeline.on_failed = lambda item, reason: _alert_failed(alerts, item, reason)
    return spool, store, pipeline


def _alert_failed(alerts, item, reason: dict) -> None:
    if reason.get("kind") not in ("not_an_order", "duplicate"):
        alerts.record("failed", f"取り込めませんでした: {item.meta.get('shop', '')} {item.meta.get('file', '') or item.id}",
                      f"[{reason.get('kind')}] {reason.get('message')}\n詳しく: tsunagi spool show {item.id}")


def feed_writer(cfg: Config, spool: Spool, store: Store) -> FeedWriter:
    targets = [FeedTarget(s.id, s.stock_feed.layout, s.stock_feed.safety_stock, s.stock_feed.location, cfg.layouts)
               for s in cfg.shops if s.stock_feed]
    return FeedWriter(store, spool.dir("outbox"), targets)


class Daemon:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.stopping = threading.Event()
        self.items: queue.Queue[list[str] | None] = queue.Queue()
        self.files: queue.Queue = queue.Queue()        # claimed CSV items, for the file worker
        self.stock_changed = threading.Event()
        self.ready = threading.Event()
        self.port = cfg.smtp_port

    def _pipeline_loop(self, pipeline: Pipeline) -> None:
        pipeline.drain()
        self.stock_changed.set()
        while not self.stopping.is_set():
            try:
                ids = self.items.get(timeout=RESCAN_SECONDS)
            except queue.Empty:
                ids = pipeline.spool.waiting()
            if ids is None:
                break
            while len(ids) < 256:   # take what else has arrived: one commit for the lot
                try:
                    more = self.items.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.stopping.set()
                    break
                ids += more
            outcomes = pipeline.process_batch(ids)
            if any(o.startswith(("order", "csv")) for o in outcomes.values()):
                self.stock_changed.set()

    def _file_loop(self, pipeline: Pipeline) -> None:
        """CSV files, one at a time, beside the mail pipeline: a million-row file does not hold up the
        orders that arrive by mail meanwhile (they wait at most one short transaction of the file's)."""
        while not self.stopping.is_set():
            try:
                item = self.files.get(timeout=RESCAN_SECONDS)
            except queue.Empty:
                continue
            if item is None:
                break
            try:
                pipeline.process_file(item)
            except Exception:
                log.exception("file %s: unexpected error; it is run again at the next start", item.id)
            self.stock_changed.set()

    def _feed_loop(self, writer: FeedWriter, confirms) -> None:
        coalesce = self.cfg.feed_coalesce_ms / 1000
        while not self.stopping.is_set():
            if self.stock_changed.wait(FEED_POLL_SECONDS):
                self.stopping.wait(coalesce)   # gather the changes of a burst into one file
                self.stock_changed.clear()
            try:
                writer.flush()
                confirms.flush()
            except Exception:
                log.exception("stock feed or shipment confirmation failed; retrying")
                self.stopping.wait(1)

    def _mail_loop(self, mailer, alerts) -> None:
        """Buyer mails as they fall due, and the operator's digest; a failing relay only delays them."""
        while not self.stopping.wait(MAIL_POLL_SECONDS):
            try:
                while mailer and mailer.send_due():
                    pass
                if alerts:
                    if mailer and mailer.failing_since:
                        alerts.failed("メール中継サーバ", "購入者へのメールを送れません", "tsunagi mail log")
                    elif mailer:
                        alerts.recovered("メール中継サーバ")
                    alerts.collect()
                    alerts.flush()
            except Exception:
                log.exception("mail sending failed; retrying")

    def _drop_loop(self, drops: DropFolders) -> None:
        """Events take files at once; this sweep takes what no event announced (network shares)."""
        while not self.stopping.wait(RESCAN_SECONDS):
            try:
                drops.scan()
            except Exception:
                log.exception("drop folder scan failed; retrying")

    async def serve(self) -> None:
        cfg = self.cfg
        lock = take_lock(cfg.data_dir)
        spool, store, pipeline = open_parts(cfg)
        recovered = spool.recover(max_tmp_age=0)
        with store.transaction() as tx:
            recovered.update(csvfile.recover_pending(tx, spool.dir("outbox")))
        log.info("start-up recovery: %s", recovered)
        writer = feed_writer(cfg, spool, store)
        handler = IntakeHandler(spool, lambda a: (s.id if (s := cfg.shop_for_recipient(a)) else None),
                                self.items.put)
        server = await asyncio.get_running_loop().create_server(make_server(handler, cfg.max_message_bytes),
                                                cfg.smtp_host, cfg.smtp_port)
        self.port = server.sockets[0].getsockname()[1]
        drops = DropFolders(spool, cfg.drop_targets(), self.items.put, cfg.drop_stable_seconds)
        taken = drops.take_all()      # dropped while we were down: complete by now
        log.info("start-up: %d dropped files taken", len(taken))
        drops.start()
        alerts = notifyflow.alerts(cfg, store, spool.dir("outbox"))
        mailer = notifyflow.mailer(cfg, store)
        if mailer:
            uncertain = mailer_recover(store)
            if uncertain:
                log.warning("%d buyer mails left uncertain by a crash: tsunagi mail log --uncertain", uncertain)
        scheduler = Scheduler(cfg, spool, store, self.items.put, self.stopping, alerts)
        self.scheduler = scheduler
        pipeline.hand_off = self.files.put
        threads = [threading.Thread(target=self._pipeline_loop, args=(pipeline,), name="pipeline", daemon=True),
                   threading.Thread(target=self._file_loop, args=(pipeline,), name="files", daemon=True),
                   threading.Thread(target=self._feed_loop, name="feeds", daemon=True,
                                    args=(writer, shipflow.confirm_writer(cfg, spool, store))),
                   threading.Thread(target=self._drop_loop, args=(drops,), name="drops", daemon=True),
                   threading.Thread(target=scheduler.run, name="sftp", daemon=True),
                   threading.Thread(target=self._mail_loop, args=(mailer, alerts), name="mail", daemon=True)]
        for t in threads:
            t.start()
        log.info("tsunagi listening on %s:%d for %d shops", cfg.smtp_host, self.port, len(cfg.shops))
        self.ready.set()
        try:
            while not self.stopping.is_set():
                await asyncio.sleep(0.2)
        finally:
            server.close()
            await server.wait_closed()
            drops.stop()
            self.items.put(None)
            self.files.put(None)
            for t in threads:
                t.join(timeout=10)
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
