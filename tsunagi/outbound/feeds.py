"""Stock feeds: turn stock events from the outbox into each shop's inventory file, changed SKUs only."""
from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from tsunagi.oms import catalog, feedchain, outbound_tables, outbox, stock
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound import csvfile, feedgone, stockmerge
from tsunagi.outbound.feedrows import FIELDS, TEXT_FIELDS, StockFeed, feed_row, rows_frame
from tsunagi.outbound.layouts import SHIPPED, Layouts

log = logging.getLogger("tsunagi.feeds")
CONSUMER = "stock-feed"
BATCH = 20000          # outbox events read per pass
def published(parts: list[tuple[str, int]], free: dict[str, int], safety: int) -> int:
    """max(0, free − safety) for a product; a set takes the fewest whole sets its parts allow."""
    return min(max(0, free.get(sku, 0) - safety) // qty for sku, qty in parts)


class FeedWriter:
    def __init__(self, store: Store, outbox_dir: Path, feeds: dict[str, StockFeed], layouts: Layouts = SHIPPED):
        self.store = store
        self.outbox_dir = outbox_dir
        self.feeds = feeds             # shop id -> its stock feed
        self.layouts = layouts
        for feed in feeds.values():
            layouts.load("stock", feed.layout, FIELDS)  # a broken layout fails at start, not at the first sale

    def flush(self) -> list[Path]:
        """One pass: consume pending stock events and write a file per shop whose figures changed.

        Files are renamed into ready/ before the transaction commits: a crash in between writes the
        same absolute figures again on restart, which a channel takes harmlessly; nothing is lost."""
        written: list[Path] = feedgone.retire(self)    # a deleted product's codes first: they may hold a file
        while True:    # in bounded passes: a big import leaves millions of events behind it
            # worked out on a snapshot, without the write lock: intake is not held up meanwhile
            with self.store.snapshot() as tx:
                seen = outbox.last_id(tx)
                events = outbox.pending(tx, CONSUMER, outbox.STOCK, limit=BATCH)
                if not events:
                    return written
                products = catalog.affected_products(tx, {key for _, key, _ in events})
                files = {shop: f for shop, feed in self.feeds.items() if (f := self._shop_rows(tx, shop, feed, products))}
            with self.store.transaction() as tx:      # short: the files and the cursor, together
                first = outbox.pending(tx, CONSUMER, outbox.STOCK, limit=1)
                if not first or first[0][0] != events[0][0]:
                    continue                # another writer took these events meanwhile: read again
                self._freshen(tx, seen, products, files)
                written += [path for shop, f in files.items() if (path := self._write(tx, shop, *f))]
                outbox.advance(tx, CONSUMER, events[-1][0])
            if len(events) < BATCH:
                return written

    def _freshen(self, tx: Tx, seen: int, products: set[str], files: dict) -> None:
        """Figures of the snapshot that changed before this write transaction are worked out again in it: a
        file holds the figures as of its commit, so no file written later (a resync, a stock-out) holds a
        newer figure than one written before it."""
        later = outbox.keys_after(tx, outbox.STOCK, seen)
        stale = catalog.affected_products(tx, later) & products if later else set()
        if not stale:
            return
        for shop, feed in self.feeds.items():
            fresh = self._shop_rows(tx, shop, feed, stale, force=True)
            if fresh:
                again = {r["channel_sku"] for r in fresh[1]} | {code for code, _ in fresh[3]}
                old = files.get(shop) or (fresh[0], [], [], [])
                files[shop] = (fresh[0], [r for r in old[1] if r["channel_sku"] not in again] + fresh[1],
                               [c for c in old[2] if c[1] not in again] + fresh[2],
                               [r for r in old[3] if r[0] not in again] + fresh[3])

    def flush_stockouts(self) -> list[Path]:
        """Before the coalescing window: SKUs of pending events whose figure falls to 0 from a published one
        above it are written at once (a stock-out oversells until the channel has it). The events stay
        pending: the pass after the window writes the other figures and finds these published."""
        with self.store.snapshot() as tx:          # looked for without the write lock: intake is not held up
            events = outbox.pending(tx, CONSUMER, outbox.STOCK, limit=BATCH)
            if not events:
                return []
            products = catalog.affected_products(tx, {key for _, key, _ in events})
            found = {shop: {r["sku"] for r in f[1]} for shop, feed in self.feeds.items()
                     if (f := self._shop_rows(tx, shop, feed, products, only_stockouts=True))}
        written: list[Path] = []
        if not found:
            return written
        with self.store.transaction() as tx:       # the few found, worked out again as they are now
            for shop, out_of_stock in found.items():
                f = self._shop_rows(tx, shop, self.feeds[shop], out_of_stock, only_stockouts=True)
                if f and (path := self._write(tx, shop, *f)):
                    written.append(path)
        return written

    def _shop_rows(self, tx: Tx, shop: str, target: StockFeed, products: set[str], force: bool = False,
                   only_stockouts: bool = False):
        """(layout, rows, figures, refused) of the shop's file for these products, refused being the
        (channel SKU, why) the file cannot carry; None when nothing changed (force: every figure, changed
        or not; only_stockouts: only figures falling to 0 from a published one above it)."""
        codes = catalog.channel_codes(tx, shop, products)
        parts = {p: catalog.components(tx, p) for p in set(codes.values())}
        free = stock.free_by_sku(tx, {sku for ps in parts.values() for sku, _ in ps})
        layout = self.layouts.load("stock", target.layout, FIELDS)
        rows, changes, refused = [], [], []
        for code in sorted(codes):
            product = codes[code]
            qty = published(parts[product], free, target.safety_stock)
            before = None if force else outbound_tables.published_qty(tx, shop, code)
            if before == qty or (only_stockouts and (qty != 0 or not before)):
                continue
            row, problem = feed_row(layout, shop, code, product, catalog.product_name(tx, product), qty, target)
            if row is None:
                if problem:
                    refused.append((code, problem))
                continue
            rows.append(row)
            changes.append((shop, code, qty))
        return (layout, rows, changes, refused) if rows or refused else None

    def _write(self, tx: Tx, shop: str, layout, rows: list[dict], changes: list, refused: list) -> Path | None:
        return self.write_frame(tx, shop, layout, rows_frame(rows), changes, refused)

    def write_frame(self, tx: Tx, shop: str, layout, body: pl.DataFrame, changes: list,
                    refused: list) -> Path | None:
        """The shop's file (merged into its unsent one) and its published figures recorded; each SKU left out
        alerted (in this write transaction: the snapshot its rows were worked out on records nothing)."""
        for code, problem in refused:
            log.error("shop %s: channel SKU %r left out of the feed: %s", shop, code, problem)
            outbound_tables.add_alert(tx, "feed", f"{shop} の在庫ファイルに {code} を書けません", problem)
        if not body.height:
            return None
        merged, chain = self.merge(tx, shop, layout, csvfile.frame_from(layout, body, TEXT_FIELDS))
        outbound_tables.record_published(tx, changes, chain)   # a resync leaves out the figures published already
        log.info("shop %s: stock feed %s (%d SKUs)", shop, merged.path.name, body.height)
        return merged.path

    def merge(self, tx: Tx, shop: str, layout, body: pl.DataFrame,
              gone: stockmerge.Gone | None = None) -> tuple[stockmerge.Merged, int]:
        """body (in the layout's columns) merged into the shop's unsent file, and the number of the chain of
        unsent files that file belongs to (recorded: oms/feedchain.py)."""
        chain = feedchain.current(tx, shop)
        merged = stockmerge.write(self.outbox_dir / shop, shop, layout, body, gone)
        if merged.path is None:
            return merged, chain.number
        number = feedchain.continued(tx, shop, chain, merged.merged)
        feedchain.wrote(tx, shop, number, merged.path.name)
        return merged, number
