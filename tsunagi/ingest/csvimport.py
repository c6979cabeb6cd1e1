"""Applying one CSV spool item: pick its layout, read it chunk by chunk, apply each chunk in a transaction."""
from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

from tsunagi.common.clock import JST, timestamp
from tsunagi.ingest import channelstock
from tsunagi.ingest.spool import Item, Spool
from tsunagi.oms import counting, csvdigests, filerows, orders, queries, shipping, wms
from tsunagi.oms.store import Store
from tsunagi.oms.untracked import Untracked, blank_refused
from tsunagi.parsers.csvfields import RowProblem
from tsunagi.parsers.csvfile import Chunk, choose_layout, parse_file, parse_held, read_sample
from tsunagi.parsers.csvlayout import CsvLayout
from tsunagi.parsers.csvread import SAMPLE, first_long_line
from tsunagi.parsers.errors import ParseError

log = logging.getLogger("tsunagi.csv")
MAX_REPORTED = 1000          # rows listed in a report; the count says how many more there were

Progress = Callable[[int, int], None]   # (rows done, bytes of the file)


@dataclass
class Prepared:
    """An order file read ahead (CsvImporter.prepare): its layout and its planned chunks, and when reading began."""
    layout: CsvLayout
    chunks: Iterator[Chunk]
    started: float


@dataclass
class CsvResult:
    layout: str = ""
    rows: int = 0
    outcomes: Counter = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)
    refused_rows: int = 0
    held_rows: int = 0
    seconds: float = 0.0
    sha256: str = ""          # the file's: its rows are recorded under it
    retried: int = 0          # rows that waited from an earlier run of the same bytes (0: a first run)
    superseded: str | None = None   # an earlier item of the same bytes whose waiting rows this run took over

    def refused(self) -> dict[int, str]:
        """Each refused row (an order on hold is applied) with why."""
        out: dict[int, str] = {}
        for p in sorted(self.problems, key=lambda p: p.row):
            if p.field != "hold":
                out[p.row] = f"{out[p.row]} / {p.message}" if p.row in out else p.message
        return out

    def summary(self) -> str:
        done = ", ".join(f"{k} {n}" for k, n in sorted(self.outcomes.items()))
        again = f" ({self.retried} waiting rows tried again)" if self.retried else ""
        return (f"csv {self.layout}: {self.rows} rows{again}; {done or 'nothing applied'}; "
                f"{self.refused_rows} rows refused, {self.held_rows} rows on hold")

    def report(self) -> dict:
        shown = sorted(self.problems, key=lambda p: p.row)[:MAX_REPORTED]
        return {"stage": "apply", "kind": "row_errors", "layout": self.layout, "rows": self.rows,
                "applied": dict(self.outcomes), "refused_rows": self.refused_rows,
                "held_rows": self.held_rows, "retried_rows": self.retried,
                "message": f"{self.refused_rows} 行を取り込めませんでした、{self.held_rows} 行の注文は保留です "
                           f"(他の行は取り込み済み)",
                "problems": [p.as_dict() for p in shown],
                "more_problems": max(0, len(self.problems) - len(shown))}


class CsvImporter:
    """layouts(meta) gives the candidate layouts for an item: its shop's, or the one it names."""

    def __init__(self, spool: Spool, store: Store, layouts: Callable[[dict], list[CsvLayout]],
                 max_line_bytes: int = 1 << 20, sku_case: str = "refuse", untracked: Untracked = frozenset(),
                 channel_results=None):
        self.spool = spool
        self.channel_results = channel_results     # ingest/channelresults.py: a channel's result files first
        self.sku_case = sku_case         # catalog.sku_case: a count's code in another case than its product's
        self.store = store
        self.layouts = layouts
        self.max_line_bytes = max_line_bytes
        self.untracked = untracked        # (carrier, service) whose results may leave the number blank

    def prepare(self, data: bytes, meta: dict) -> Prepared | None:
        """An order file planned from its bytes in hand, before its spool copy is durable (readahead.py): its
        layout chosen and its known orders looked up; nothing is applied. None when it cannot be (not an order
        file, too large to hold, any error): apply then reads the durable copy as ever, and refuses it there."""
        started = time.monotonic()
        try:
            candidates = self.layouts(meta)
            if not candidates or first_long_line(data, self.max_line_bytes):
                return None
            layout = choose_layout(data[:SAMPLE], candidates)
            shop = meta.get("shop", "")
            held = parse_held(data, layout, shop, self._known(shop))
        except Exception:        # the durable copy's own read gives the reason, in its place
            log.debug("read-ahead of %s skipped", meta.get("file"), exc_info=True)
            return None
        return Prepared(layout, held[1], started) if held else None

    def apply(self, item: Item, progress: Progress | None = None,
              long_line: ParseError | None = None, prepared: Prepared | None = None) -> tuple[str, CsvResult]:
        """Apply the file; raises ParseError when it cannot be read at all (nothing is applied then). long_line:
        what csvread.sha256_and_long_line found in the pipeline's pass over the file. prepared: what prepare
        planned of the same bytes while the copy was made durable."""
        started = prepared.started if prepared else time.monotonic()
        if self.channel_results and (found := self.channel_results.apply(item)):
            return found.summary(), found
        candidates = self.layouts(item.meta)
        if not candidates:
            raise ParseError(f"no CSV layout for shop {item.meta.get('shop')!r} (set order_csv.layout in config)",
                             stage="dispatch", kind="unknown_layout")
        if long_line:                # a line of a gigabyte is refused before it is decoded
            raise long_line
        layout = prepared.layout if prepared else choose_layout(read_sample(item.data_path), candidates)
        result = CsvResult(layout=layout.name, sha256=item.meta["sha256"])
        todo = filerows.pending(self.store.read(), result.sha256)
        result.retried = len(todo.only or ())
        with self._chunks(item, layout, prepared) as chunks:
            stock_changed = False
            for chunk in chunks:
                chunk = _still_to_do(chunk, todo)
                channelstock.apply(self.store, item.meta.get("shop", ""), chunk, result.outcomes, result.sha256,
                                   _made_at(item), f"{layout.name}:{item.meta.get('file') or item.id}")
                stock_changed |= self._apply_chunk(chunk, result)
                result.rows += chunk.rows
                if progress:
                    progress(result.rows, item.meta.get("size", 0))
        result.refused_rows = len({p.row for p in result.problems if p.field != "hold"})
        result.held_rows = len({p.row for p in result.problems if p.field == "hold"})
        with self.store.transaction() as tx:
            if stock_changed:
                orders.retry_waiting(tx)
            result.superseded = filerows.finish(tx, result.sha256, item.id, result.refused(), result.summary())
        result.seconds = time.monotonic() - started
        return result.summary(), result

    @contextlib.contextmanager
    def _chunks(self, item: Item, layout: CsvLayout, prepared: Prepared | None) -> Iterator[Iterator[Chunk]]:
        """The item's chunks: as prepared, or read from its durable copy (decoded into a scratch file
        when it is too large to hold, removed after)."""
        if prepared:
            yield prepared.chunks
            return
        scratch = self.spool.scratch(item)
        try:
            with open(item.data_path, "rb") as src:
                shop = item.meta.get("shop", "")
                yield parse_file(src, layout, shop, scratch, item.file_time, self._known(shop))[1]
        finally:
            scratch.unlink(missing_ok=True)

    def _known(self, shop: str):
        """Which of a file's orders the store holds as its rows make them (csvdigests), on this thread's connection."""
        return functools.partial(csvdigests.unchanged, self.store.read(), shop)

    def _apply_chunk(self, chunk, result: CsvResult) -> bool:
        """Short transactions (Store.in_chunks: a few thousand rows or half a second), so mails applied
        meanwhile wait little. Each order and result sits in its own savepoint. Re-applying changes
        nothing (orders are keyed, results ship once, counts absolute): a crash part-way is repaired
        by a re-run."""
        result.problems += chunk.problems
        if chunk.unchanged:          # left out by their digest: what applying them again would have said
            result.outcomes["unchanged"] += chunk.unchanged
        self.store.in_chunks(chunk.orders, lambda tx, order: self._apply_order(
            tx, order[0], order[1], result, chunk.digests.get(order[0].order_no)))
        changed = any(self.store.in_chunks(chunk.results, lambda tx, res: self._apply_result(tx, *res, result)))
        changed |= any(self.store.in_chunks(chunk.counts, lambda tx, count: self._apply_count(tx, *count, result)))
        return changed or bool(chunk.orders) or bool(chunk.unchanged)

    def _apply_result(self, tx, res, row: int, result: CsvResult) -> bool:
        if res.state == "shipped" and not res.tracking and blank_refused(tx, res.key, self.untracked):
            result.problems.append(RowProblem(row, "tracking", "", f"行 {row}: お客様管理番号 {res.key}: 伝票番号が空です "
                                              f"(追跡番号のない便なら [[carrier]] untracked_services に加えてください)"))
            return False
        try:
            with tx.savepoint():
                result.outcomes[wms.apply_result(tx, res)] += 1
                filerows.applied(tx, result.sha256, [row])
        except (shipping.ShippingError, orders.OrderLocked) as exc:
            result.problems.append(RowProblem(row, "key", res.key, f"行 {row}: {exc}"))
        return True

    def _apply_count(self, tx, count, row: int, result: CsvResult) -> bool:
        try:
            changed = counting.apply_count(tx, count, f"csv:{result.layout}", known_only=True,
                                           sku_case=self.sku_case)
        except ValueError as exc:
            result.problems.append(RowProblem(row, "sku", count.sku, f"行 {row}: {exc}"))
            return False
        result.outcomes["counted"] += 1
        filerows.applied(tx, result.sha256, [row])
        return changed

    def _apply_order(self, tx, rec, rows: list[int], result: CsvResult, digest: str | None = None) -> None:
        try:
            with tx.savepoint():
                outcome = csvdigests.apply_order(tx, rec, digest)
                filerows.applied(tx, result.sha256, rows)      # held or not: its rows are done
        except orders.OrderLocked as exc:
            result.problems += [RowProblem(r, "order", rec.order_no, f"行 {r}: 注文 {rec.order_no}: {exc}")
                                for r in rows]
            return
        except Exception as exc:   # a bug in one order must not lose the rest of the file
            log.exception("order %s: unexpected error", rec.order_no)
            result.problems += [RowProblem(r, "order", rec.order_no, f"行 {r}: {type(exc).__name__}: {exc}")
                                for r in rows]
            return
        result.outcomes[outcome] += 1
        if outcome in ("held", "mismatch", "conflict"):
            self._held(tx, rec, rows, result)

    @staticmethod
    def _held(tx, rec, rows, result: CsvResult) -> None:
        """An order held for an unknown SKU or a difference is reported on its rows too."""
        reason = queries.hold_reason(tx, rec.shop, rec.order_no)
        if reason is not None:
            result.problems += [RowProblem(r, "hold", rec.order_no, f"行 {r}: 注文 {rec.order_no} は保留: {reason}")
                                for r in rows]


def _made_at(item: Item) -> str:
    """When the item's file was made, as stored times are written (a channel's download is compared by it)."""
    made = item.file_time
    return made.astimezone(JST).isoformat(timespec="microseconds") if made else timestamp()


def _still_to_do(chunk: Chunk, todo: filerows.Pending) -> Chunk:
    """The chunk less the rows an earlier run of the same bytes applied (a retry, a re-sent file)."""
    if todo.everything:
        return chunk
    return replace(chunk, orders=[o for o in chunk.orders if todo.wants(o[1])],
                   results=[r for r in chunk.results if todo.wants([r[1]])],
                   counts=[c for c in chunk.counts if todo.wants([c[1]])],
                   reported=[r for r in chunk.reported if todo.wants([r[1]])],
                   problems=[p for p in chunk.problems if todo.wants([p.row])])
