"""The pipeline: claim a spool item, parse it, apply it in one transaction that records it, file it."""
from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tsunagi.ingest.csvimport import CsvImporter, CsvResult, Prepared, Progress
from tsunagi.ingest import lots
from tsunagi.ingest.dkimcheck import Resolver
from tsunagi.ingest.parsepool import Job, ParsePool, Verified, parse_job
from tsunagi.ingest.spool import Item, Spool
from tsunagi.oms import orders
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Store, already_applied, record_applied, transient
from tsunagi.parsers.csvread import sha256_and_long_line
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailspec import SPEC_DIR

log = logging.getLogger("tsunagi.pipeline")
DUPLICATE = "duplicate (already applied)"


def rows_refused(result: CsvResult, item_id: str) -> dict:
    """The reason of a file whose refused rows wait: applied rows stay applied, a retry runs only these."""
    applied = sum(result.outcomes.values())
    done = f"{applied} 件は取り込み済み" if applied else "どの行も取り込めませんでした"
    return dict(result.report(), kind="rows_refused", waiting_rows=result.refused_rows,
                message=f"{result.refused_rows} 行が取り込み待ちです ({done}); 原因を直して "
                        f"tsunagi spool retry {item_id} で残りの行だけを取り込みます")


@dataclass
class Pipeline:
    spool: Spool
    store: Store
    shop_specs: dict[str, list[str]]          # shop id -> the carts whose mail specs it reads
    spec_dir: Path | str = SPEC_DIR           # a folder, or several joined by os.pathsep (searched in order)
    csv: CsvImporter | None = None
    after: Callable[[], None] | None = None      # run after applying (the app moves orders on from there)
    on_failed: Callable[[Item, dict], None] | None = None   # told of every item quarantined
    watch: Callable[[Item, object], None] | None = None     # told of every item filed, with its outcome or reason
    hand_off: Callable[[Item], None] | None = None   # where claimed CSV items go to be applied (a file worker)
    parser: ParsePool | None = None              # worker processes; None parses here (tests, one-off tools)
    dkim: Resolver | None = None                 # mails' DKIM signatures verified with it; None: not verified
    lot_tables: dict[str, Path] = field(default_factory=dict)   # shop id -> its lot → SKU table (au PAY)
    counts: Counter = field(default_factory=Counter)
    last_csv: CsvResult | None = None
    # Items a crash caught being applied wait until then (time.monotonic()): a daemon killed or restarted
    # in a loop does not count again against what it had in hand; a real poison pill is tried once settled.
    suspects_after: float = 0.0
    deferred: bool = False           # suspects were put back to wait: rescan new/ once settled

    def settled(self) -> bool:
        return time.monotonic() >= self.suspects_after

    def drain(self) -> int:
        """Process everything waiting in new/, oldest first; returns how many were handled."""
        return len(self.process_batch(self.spool.waiting()))

    def process(self, item_id: str) -> str | None:
        return self.process_batch([item_id]).get(item_id)

    def process_batch(self, item_ids: list[str], size: int = 64) -> dict[str, str]:
        """Apply items in groups that share one commit (one fsync); each item sits in its own
        savepoint, so it is applied whole with its sha256 record or not at all, alone. An item that
        was being applied when the process stopped (or a pass failed) goes alone: a poison pill then
        costs only itself."""
        outcomes: dict[str, str] = {}
        for n in range(0, len(item_ids), size):
            claimed: list[Item] = []
            group: list[Item] = []
            try:
                claimed += [item for i in item_ids[n:n + size] if (item := self.spool.claim(i))]
                suspects = [i for i in claimed if i.meta.get("attempts")]
                if suspects and not self.settled():
                    for item in suspects:
                        claimed.remove(item)
                        self.spool.release(item)
                    self.deferred, suspects = True, []
                for item in [i for i in claimed if i.meta.get("kind") == "csv"]:
                    claimed.remove(item)
                    if self.hand_off:      # a long file must not hold up the mails behind it
                        self.hand_off(item)
                        outcomes[item.id] = "csv: handed to the file worker"
                    else:                  # process_file gives its item back itself if it fails
                        outcomes[item.id] = self.process_file(item)
                for group in [[i for i in claimed if i not in suspects], *([i] for i in claimed if i in suspects)]:
                    self._process_group(group, outcomes)
            except Exception as exc:
                self._give_back(group, exc)
                for item in claimed:
                    self.spool.release(item)      # not tried yet (or filed already): back uncounted
                raise
        if outcomes and self.after:
            self.after()
        return outcomes

    def _process_group(self, claimed: list[Item], outcomes: dict[str, str]) -> None:
        parsed = self._read_all(claimed)
        # noted only now: parsing runs in worker processes, whose crash costs one item and not the process
        note = self.spool.attempting([item for item, rec in parsed if isinstance(rec, OrderRecord)])
        try:
            results = self._apply_all([(item, rec) for item, rec in parsed if isinstance(rec, OrderRecord)])
            for item, rec in parsed:
                result = results[item.id] if isinstance(rec, OrderRecord) else rec
                outcomes[item.id] = self._file(item, result)
        finally:
            self.spool.attempted(note)

    def _give_back(self, items: list[Item], exc: Exception) -> None:
        """Items still in cur/ after a failed pass: back to new/. A busy database or a full disk is
        the moment's fault (uncounted, retried); anything else counts an attempt, poison after three."""
        why = f"{type(exc).__name__}: {exc}"
        for item in items:
            if not self.spool.claimed(item):
                continue                  # filed already (done/ or failed/)
            if transient(exc):
                self.spool.release(item)
            elif self.spool.give_back(item, why):
                self.counts["poison"] += 1
                log.warning("item %s -> failed/ as poison: %s", item.id, why)
                if self.on_failed:
                    self.on_failed(item, {"kind": "poison", "message": why})

    def process_file(self, item: Item, progress: Progress | None = None, prepared: Prepared | None = None) -> str:
        """A claimed CSV item: applied chunk by chunk; rows refused are listed in its report. A busy
        database or a full disk puts it back in new/ and raises (the worker retries after a pause).
        prepared: what CsvImporter.prepare planned of the bytes this process spooled (readahead.py)."""
        note = None
        try:
            note = self.spool.attempting([item])
            return self._process_file(item, progress, prepared if item.hashed_here else None)
        except Exception as exc:
            self._give_back([item], exc)
            raise
        finally:
            self.spool.attempted(note)

    def _process_file(self, item: Item, progress: Progress | None, prepared: Prepared | None) -> str:
        try:
            long_line = None if prepared else self._long_line(item)   # prepared: the bytes were looked at
            if already_applied(self.store.read(), item.meta["sha256"]):
                return self._file(item, DUPLICATE)
            if self.csv is None:
                raise ParseError("CSV files are not configured", stage="dispatch", kind="unknown_layout")
            summary, result = self.csv.apply(item, progress, long_line, prepared)
        except ParseError as exc:
            return self._file(item, exc.as_dict())
        except Exception as exc:
            if transient(exc):
                raise
            log.exception("item %s: unexpected error while applying a CSV", item.id)
            return self._file(item, {"stage": "apply", "kind": "error", "message": f"{type(exc).__name__}: {exc}"})
        self.last_csv = result
        if result.superseded:
            self.spool.supersede(result.superseded, item.id)
        if result.refused_rows:      # its refused rows wait in the store: failed/ shows them, spool retry runs them
            outcome = self._file(item, rows_refused(result, item.id))
        else:
            outcome = self._file(item, summary, result.report() if result.problems else None)
        if self.after:
            self.after()
        return outcome

    def _long_line(self, item: Item) -> ParseError | None:
        """One read of the copy: its sha256 checked (unless this process hashed the bytes as it wrote them)
        and its first over-long line found."""
        with open(item.data_path, "rb") as src:
            sha256, long_line = sha256_and_long_line(src, self.csv.max_line_bytes if self.csv else 1 << 62,
                                                     item.meta["sha256"] if item.hashed_here else None)
        if sha256 != item.meta.get("sha256", ""):
            raise ParseError("the spool file does not match the sha256 taken when it was received",
                             stage="spool", kind="corrupt")
        return long_line

    def _read_all(self, items: list[Item]) -> list[tuple[Item, object]]:
        """Each item's record, the outcome of a duplicate, or a reason dict; parsing runs in the
        worker processes, side by side, each mail within its time budget."""
        checked = [(item, self._check(item)) for item in items]
        jobs = [(n, job) for n, (_, job) in enumerate(checked) if isinstance(job, Job)]
        parsed = self.parser.parse_all([job for _, job in jobs]) if self.parser else \
            [parse_job(job) for _, job in jobs]
        out = [[item, result] for item, result in checked]
        for (n, _), result in zip(jobs, parsed):
            if isinstance(result, Verified):      # the verdict goes into the item's meta, wherever it is filed
                self.spool.annotate(out[n][0], dkim=result.dkim)
                result = result.result
            out[n][1] = result
        return [(item, result) for item, result in out]

    def _check(self, item: Item):
        """A Job to parse; or DUPLICATE, known without parsing again; or a reason dict."""
        try:
            data = item.read()
            if hashlib.sha256(data).hexdigest() != item.meta.get("sha256", ""):
                raise ParseError("the spool file does not match the sha256 taken when it was received",
                                 stage="spool", kind="corrupt")
            if already_applied(self.store.read(), item.meta["sha256"]):
                return DUPLICATE
            return self._job(item, data)
        except ParseError as exc:
            return exc.as_dict()
        except Exception as exc:  # a bug must not stop the daemon: the item is kept with the error
            if transient(exc):
                raise
            log.exception("item %s: unexpected error while reading", item.id)
            return {"stage": "parse", "kind": "error", "message": f"{type(exc).__name__}: {exc}"}

    def _apply_all(self, batch: list) -> dict:
        results: dict = {}
        if not batch:
            return results
        with self.store.transaction() as tx:
            for item, record in batch:
                sha = item.meta["sha256"]
                try:
                    with tx.savepoint():
                        if already_applied(tx, sha):
                            results[item.id] = DUPLICATE
                            continue
                        result = lots.apply(tx, record, self.lot_tables.get(record.shop))
                        outcome = f"order {result}: {record.shop} {record.order_no}"
                        record_applied(tx, sha, item.id, outcome)
                        results[item.id] = outcome
                except orders.OrderLocked as exc:
                    results[item.id] = {"stage": "apply", "kind": "locked", "message": str(exc)}
                except Exception as exc:
                    if transient(exc):     # the whole batch goes back (and SQLite may have ended the transaction)
                        raise
                    log.exception("item %s: unexpected error while applying", item.id)
                    results[item.id] = {"stage": "apply", "kind": "error",
                                        "message": f"{type(exc).__name__}: {exc}"}
        return results

    def _file(self, item: Item, result, report: dict | None = None) -> str:
        """After the commit: done/ for an outcome, failed/ with its reason otherwise; then the watch is told."""
        outcome = self._file_item(item, result, report)
        if self.watch:
            try:
                self.watch(item, result)
            except Exception:     # noticing a changed mail format must never hold up filing
                log.exception("item %s: the spec watch failed", item.id)
        return outcome

    def _file_item(self, item: Item, result, report: dict | None) -> str:
        if isinstance(result, dict):
            self.spool.fail(item, result)
            kind = result.get("kind", "error")
            self.counts[kind] += 1
            level = logging.INFO if kind == "not_an_order" else logging.WARNING
            log.log(level, "item %s -> failed/: %s", item.id, result.get("message"))
            if self.on_failed:
                self.on_failed(item, result)
            return kind
        self.spool.done(item, report)
        self.counts[result.split(":")[0]] += 1
        log.info("item %s: %s", item.id, result)
        return result

    def _job(self, item: Item, data: bytes) -> Job:
        kind = item.meta.get("kind", "order_mail")
        if kind != "order_mail":
            raise ParseError(f"no parser for items of kind {kind!r}", stage="dispatch", kind="unknown_kind")
        shop = item.meta.get("shop", "")
        if shop not in self.shop_specs:
            raise ParseError(f"shop {shop!r} is not in the configuration", stage="dispatch", field="shop",
                             kind="unknown_shop")
        return Job(data, shop, tuple(self.shop_specs[shop]), str(self.spec_dir), item.meta.get("mail_from", "x"),
                   dkim=self.dkim)

    def close(self) -> None:
        if self.parser:
            self.parser.close()
