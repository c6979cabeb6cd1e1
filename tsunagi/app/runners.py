"""The daemon's workers: the pipeline, the file worker, feeds and confirmations, mail, drop folders."""
from __future__ import annotations

import queue
import threading
import time

from tsunagi.app.runner import Runner
from tsunagi.ingest.dropwatch import DropFolders
from tsunagi.ingest.pipeline import Pipeline
from tsunagi.outbound.confirmations import ConfirmWriter
from tsunagi.outbound import resync
from tsunagi.outbound.feeds import FeedWriter

RESCAN_SECONDS = 2.0     # new/ is rescanned for items other processes put there
FEED_POLL_SECONDS = 0.5  # stock changed by other processes (imports) is noticed within this
RESYNC_CHECK_SECONDS = 2.0   # due full resyncs and drifted SKUs are looked for this often
MAIL_POLL_SECONDS = 1.0  # queued buyer mails are looked for this often
UNPAID_POLL_SECONDS = 60.0   # unpaid orders past their deadline are looked for this often (deadlines are days)
BATCH = 256              # items applied under one commit
SPEC_POLL_SECONDS = 10.0  # spec files are looked at this often for an edit
LOT_POLL_SECONDS = 2.0    # lot tables too (a stat each): an order held for a lot goes on as soon as it is added
SETTLE_SECONDS = 5.0     # items a crash caught being applied are tried again once the daemon has run this long


class PipelineRunner(Runner):
    """Mails and small items: what has arrived is applied in one commit; new/ is rescanned for the rest."""

    name = "pipeline"

    def __init__(self, stopping, pipeline: Pipeline, items: queue.Queue, stock_changed: threading.Event):
        super().__init__(stopping)
        self.pipeline, self.items, self.stock_changed = pipeline, items, stock_changed
        self.drained = False
        pipeline.suspects_after = time.monotonic() + SETTLE_SECONDS

    def run_once(self) -> bool:
        if self.pipeline.deferred and self.pipeline.settled():
            self.pipeline.deferred, self.drained = False, False
        if not self.drained:              # what start-up recovery (or a failed pass) put back, first
            self.pipeline.drain()
            self.drained = True
            self.stock_changed.set()
        ids = self._take()
        if ids is None:
            self.finished = True
            return True
        try:
            outcomes = self.pipeline.process_batch(ids)
        except Exception:
            self.drained = False          # what it claimed is back in new/: taken first after the pause
            raise
        if any(o.startswith(("order", "csv")) for o in outcomes.values()):
            self.stock_changed.set()
        return True

    def _take(self) -> list[str] | None:
        try:
            ids = self.items.get(timeout=RESCAN_SECONDS)
        except queue.Empty:
            return self.pipeline.spool.waiting()
        while ids is not None and len(ids) < BATCH:     # take what else has arrived: one commit for the lot
            try:
                more = self.items.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self.finished = True
                break
            ids += more
        return ids


class FileRunner(Runner):
    """CSV files, one at a time, beside the mail pipeline: a million-row file does not hold up the orders
    that arrive by mail meanwhile (they wait at most one short transaction of the file's)."""

    name = "files"

    def __init__(self, stopping, pipeline: Pipeline, files: queue.Queue, stock_changed: threading.Event):
        super().__init__(stopping)
        self.pipeline, self.files, self.stock_changed = pipeline, files, stock_changed
        self.again: str | None = None      # a file whose pass failed: back in new/, taken again first

    def run_once(self) -> bool:
        item = self._next()
        if item is None:
            return True
        try:
            self.pipeline.process_file(item)
        except Exception:
            self.again = item.id
            raise
        finally:
            self.stock_changed.set()
        return True

    def _next(self):
        if self.again:
            again, self.again = self.again, None
            if item := self.pipeline.spool.claim(again):    # None: the pipeline's rescan took it first
                return item
        try:
            item = self.files.get(timeout=RESCAN_SECONDS)
        except queue.Empty:
            return None
        if item is None:
            self.finished = True
        return item


class FeedRunner(Runner):
    """Stock feeds and shipment confirmations, written within a moment of a change; full resyncs when due and
    the right figures of drifted SKUs written again."""

    name = "feeds"

    def __init__(self, stopping, writer: FeedWriter, confirms: ConfirmWriter, stock_changed: threading.Event,
                 coalesce_seconds: float, full_every_hours: float = 0):
        super().__init__(stopping)
        self.writer, self.confirms, self.stock_changed = writer, confirms, stock_changed
        self.coalesce, self.full_every_hours = coalesce_seconds, full_every_hours
        self.checked = 0.0

    def run_once(self) -> bool:
        if self.stock_changed.wait(FEED_POLL_SECONDS):
            self.writer.flush_stockouts()          # a stock-out goes at once, ahead of the window
            self.stopping.wait(self.coalesce)      # gather the changes of a burst into one file
            self.stock_changed.clear()
        self.writer.flush()
        if time.monotonic() - self.checked >= RESYNC_CHECK_SECONDS:
            self.checked = time.monotonic()
            if due := resync.due(self.writer, self.full_every_hours):
                resync.resync(self.writer, due)
            resync.repush(self.writer)
        self.confirms.flush()
        return True


class MailRunner(Runner):
    """Buyer mails as they fall due, and the operator's digest; a failing relay only delays them."""

    name = "mail"
    interval = MAIL_POLL_SECONDS

    def __init__(self, stopping, mailer, alerts):
        super().__init__(stopping)
        self.mailer, self.alerts = mailer, alerts

    def run_once(self) -> bool:
        while self.mailer and self.mailer.send_due():
            pass
        if self.alerts:
            if self.mailer and self.mailer.failing_since:
                self.alerts.failed("メール中継サーバ", "購入者へのメールを送れません", "tsunagi mail log")
            elif self.mailer:
                self.alerts.recovered("メール中継サーバ")
            self.alerts.collect()
            self.alerts.flush()
        return False


class UnpaidRunner(Runner):
    """What time moves: 印刷日待ち orders whose day came go to 印刷待ち; 入金待ち orders past their shop's deadline
    are cancelled (shipping.unpaid_cancel_days), feeds following."""

    name = "unpaid"
    interval = UNPAID_POLL_SECONDS

    def __init__(self, stopping, cancel, stock_changed: threading.Event):
        super().__init__(stopping)
        self.cancel, self.stock_changed = cancel, stock_changed

    def run_once(self) -> bool:
        if self.cancel():
            self.stock_changed.set()
        return False


class LotRunner(Runner):
    """A shop's lot table edited while the daemon runs (ingest/lots.TableWatch): held orders placed, feeds following."""

    name = "lots"
    interval = LOT_POLL_SECONDS

    def __init__(self, stopping, watch, stock_changed: threading.Event):
        super().__init__(stopping)
        self.watch, self.stock_changed = watch, stock_changed

    def run_once(self) -> bool:
        if self.watch.check():
            self.stock_changed.set()
        return False


class SpecRunner(Runner):
    """A spec file edited while the daemon runs: the mails its old version refused are run again."""

    name = "specs"
    interval = SPEC_POLL_SECONDS

    def __init__(self, stopping, check, items):
        super().__init__(stopping)
        self.check, self.items = check, items

    def run_once(self) -> bool:
        retried = [item_id for ids in self.check().values() for item_id in ids]
        if retried:
            self.items.put(retried)
        return False


class DropRunner(Runner):
    """Events take dropped files at once; this sweep takes what no event announced (network shares)."""

    name = "drops"
    interval = RESCAN_SECONDS

    def __init__(self, stopping, drops: DropFolders):
        super().__init__(stopping)
        self.drops = drops

    def run_once(self) -> bool:
        self.drops.scan()
        return False
