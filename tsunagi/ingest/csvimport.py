"""Applying one CSV spool item: pick its layout, read it chunk by chunk, apply each chunk in a transaction."""
from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from tsunagi.ingest.spool import Item, Spool
from tsunagi.oms import counting, csvdigests, orders, queries, shipping, wms
from tsunagi.oms.store import Store, record_applied
from tsunagi.parsers.csvfields import RowProblem
from tsunagi.parsers.csvfile import choose_layout, parse_file, read_sample
from tsunagi.parsers.csvlayout import CsvLayout
from tsunagi.parsers.csvread import check_line_lengths
from tsunagi.parsers.errors import ParseError

log = logging.getLogger("tsunagi.csv")
MAX_REPORTED = 1000          # rows listed in a report; the count says how many more there were

Progress = Callable[[int, int], None]   # (rows done, bytes of the file)


@dataclass
class CsvResult:
    layout: str = ""
    rows: int = 0
    outcomes: Counter = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)
    refused_rows: int = 0
    held_rows: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        done = ", ".join(f"{k} {n}" for k, n in sorted(self.outcomes.items()))
        return (f"csv {self.layout}: {self.rows} rows; {done or 'nothing applied'}; "
                f"{self.refused_rows} rows refused, {self.held_rows} rows on hold")

    def report(self) -> dict:
        shown = sorted(self.problems, key=lambda p: p.row)[:MAX_REPORTED]
        return {"stage": "apply", "kind": "row_errors", "layout": self.layout, "rows": self.rows,
                "applied": dict(self.outcomes), "refused_rows": self.refused_rows,
                "held_rows": self.held_rows,
                "message": f"{self.refused_rows} 行を取り込めませんでした、{self.held_rows} 行の注文は保留です "
                           f"(他の行は取り込み済み)",
                "problems": [p.as_dict() for p in shown],
                "more_problems": max(0, len(self.problems) - len(shown))}


class CsvImporter:
    """layouts(meta) gives the candidate layouts for an item: its shop's, or the one it names."""

    def __init__(self, spool: Spool, store: Store, layouts: Callable[[dict], list[CsvLayout]],
                 max_line_bytes: int = 1 << 20):
        self.spool = spool
        self.store = store
        self.layouts = layouts
        self.max_line_bytes = max_line_bytes

    def apply(self, item: Item, progress: Progress | None = None) -> tuple[str, CsvResult]:
        """Apply the file; raises ParseError when it cannot be read at all (nothing is applied then)."""
        started = time.monotonic()
        candidates = self.layouts(item.meta)
        if not candidates:
            raise ParseError(f"no CSV layout for shop {item.meta.get('shop')!r} (set order_csv.layout in config)",
                             stage="dispatch", kind="unknown_layout")
        with open(item.data_path, "rb") as src:      # a line of a gigabyte is refused before it is decoded
            check_line_lengths(src, self.max_line_bytes)
        layout = choose_layout(read_sample(item.data_path), candidates)
        result = CsvResult(layout=layout.name)
        scratch = self.spool.scratch(item)
        try:
            with open(item.data_path, "rb") as src:
                shop = item.meta.get("shop", "")
                known = functools.partial(csvdigests.unchanged, self.store.read(), shop)
                _, chunks = parse_file(src, layout, shop, scratch, known)
                stock_changed = False
                for chunk in chunks:
                    stock_changed |= self._apply_chunk(chunk, result)
                    result.rows += chunk.rows
                    if progress:
                        progress(result.rows, item.meta.get("size", 0))
        finally:
            scratch.unlink(missing_ok=True)
        result.refused_rows = len({p.row for p in result.problems if p.field != "hold"})
        result.held_rows = len({p.row for p in result.problems if p.field == "hold"})
        with self.store.transaction() as tx:
            if stock_changed:
                orders.retry_waiting(tx)
            record_applied(tx, item.meta["sha256"], item.id, result.summary())
        result.seconds = time.monotonic() - started
        return result.summary(), result

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

    @staticmethod
    def _apply_result(tx, res, row: int, result: CsvResult) -> bool:
        try:
            with tx.savepoint():
                result.outcomes[wms.apply_result(tx, res)] += 1
        except (shipping.ShippingError, orders.OrderLocked) as exc:
            result.problems.append(RowProblem(row, "key", res.key, f"行 {row}: {exc}"))
        return True

    def _apply_count(self, tx, count, row: int, result: CsvResult) -> bool:
        try:
            changed = counting.apply_count(tx, count, f"csv:{result.layout}", known_only=True)
        except ValueError as exc:
            result.problems.append(RowProblem(row, "sku", count.sku, f"行 {row}: {exc}"))
            return False
        result.outcomes["counted"] += 1
        return changed

    def _apply_order(self, tx, rec, rows: list[int], result: CsvResult, digest: str | None = None) -> None:
        try:
            with tx.savepoint():
                outcome = csvdigests.apply_order(tx, rec, digest)
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
