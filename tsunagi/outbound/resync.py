"""Full resyncs: every channel SKU's current figure written to its shop's stock file, worked out in bulk."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import polars as pl

from tsunagi.common import clock
from tsunagi.oms import catalog, fullcatalog, outbox, published as channel, stock
from tsunagi.outbound import csvfile
from tsunagi.outbound.feedrows import FIELDS, feed_row, rows_frame
from tsunagi.outbound.feeds import FeedWriter, published
from tsunagi.outbound.layouts import Layout

log = logging.getLogger("tsunagi.feeds")


def resync(writer: FeedWriter, shops: list[str] | None = None) -> dict[str, int]:
    """shop -> SKUs written: every channel SKU of each shop.

    The figures are worked out on one snapshot, without the write lock; each shop's file is then written in a
    short transaction that works out again the SKUs changed since, so the file holds the figures as of its
    commit (see FeedWriter._freshen) and is merged into the shop's unsent file like any other. Only figures
    that differ from the published ones are recorded again (every one is in the file)."""
    names = [s for s in writer.feeds if shops is None or s in shops]
    with writer.store.snapshot() as tx:
        seen = outbox.last_id(tx)
        parts, free = fullcatalog.components(tx), stock.free_by_sku(tx)
        base = _base(fullcatalog.names(tx), free)
        mapped = fullcatalog.mapped_codes(tx, names)
        before = {shop: channel.figures(tx, shop) for shop in names}
    checked: dict = {}
    out: dict[str, int] = {}
    for shop in names:
        feed = writer.feeds[shop]
        layout = writer.layouts.load("stock", feed.layout, FIELDS)
        frame = _frame(base, mapped[shop], parts, free, feed.safety_stock)
        body, changes, refused = _figures(layout, shop, feed, frame, before.pop(shop), checked)
        with writer.store.transaction() as tx:
            later = outbox.keys_after(tx, outbox.STOCK, seen)
            stale = catalog.affected_products(tx, later) & set(frame.get_column("sku").to_list()) if later else set()
            fresh = writer._shop_rows(tx, shop, feed, stale, force=True) if stale else None
            if fresh:           # the SKUs changed since the snapshot, as they are now
                again = {r["channel_sku"] for r in fresh[1]} | {code for code, _ in fresh[3]}
                body = pl.concat([body.filter(~pl.col("channel_sku").is_in(list(again))), rows_frame(fresh[1])])
                changes = [c for c in changes if c[1] not in again] + fresh[2]
                refused = [r for r in refused if r[0] not in again] + fresh[3]
            writer.write_frame(tx, shop, layout, body, changes, refused)
            channel.record_resync(tx, shop)
        out[shop] = body.height
        log.info("shop %s: full resync of %d SKUs written", shop, body.height)
    return out


def _base(rows: list[tuple[str, str]], free: dict[str, int]) -> pl.DataFrame:
    """(sku, name, free) of every product of the master, sorted by SKU: what every shop's figures start from."""
    products = pl.DataFrame(rows, schema={"sku": pl.String, "name": pl.String}, orient="row")
    stock_frame = pl.DataFrame({"sku": list(free), "free": list(free.values())}, schema={"sku": pl.String, "free": pl.Int64})
    return products.join(stock_frame, on="sku", how="left").with_columns(
        name=pl.col("name").fill_null(""), free=pl.col("free").fill_null(0)).sort("sku")


def _frame(base: pl.DataFrame, mapped: dict[str, str], parts: dict, free: dict[str, int], safety: int) -> pl.DataFrame:
    """(channel_sku, sku, name, qty) of everything the shop publishes, sorted by code: its mapped codes, and
    every other product of the master under its own SKU; a set's figure from its parts, any other's
    max(0, free − safety stock)."""
    frame = base.with_columns(channel_sku=pl.col("sku"))
    if mapped:
        pairs = pl.DataFrame({"channel_sku": list(mapped), "sku": list(mapped.values())},
                             schema={"channel_sku": pl.String, "sku": pl.String})
        own = frame.filter(~pl.col("sku").is_in(pairs.get_column("sku").unique().to_list()))
        named = pairs.join(base, on="sku", how="left").with_columns(name=pl.col("name").fill_null(""),
                                                                    free=pl.col("free").fill_null(0))
        frame = pl.concat([own, named.select(own.columns)]).unique("channel_sku", keep="last").sort("channel_sku")
    qty = (pl.col("free") - safety).clip(lower_bound=0)
    if parts:
        sets = {p: published(parts[p], free, safety) for p in parts}
        frame = frame.join(pl.DataFrame({"sku": list(sets), "set_qty": list(sets.values())},
                                        schema={"sku": pl.String, "set_qty": pl.Int64}),
                           on="sku", how="left", maintain_order="left")
        qty = pl.coalesce("set_qty", qty)
    return frame.select("channel_sku", "sku", "name", qty=qty)


def _figures(layout: Layout, shop: str, feed, frame: pl.DataFrame, before: list[tuple[str, int]], checked: dict):
    """(body, figures to record, refused) of the frame. A batch with nothing the file cannot carry (the usual
    case) is checked as a whole, any other row by row as FeedWriter does it."""
    known = pl.DataFrame(before, schema={"channel_sku": pl.String, "before": pl.Int64}, orient="row")
    if known.height == frame.height and known.get_column("channel_sku").equals(frame.get_column("channel_sku")):
        changed = frame.filter(pl.Series(known.get_column("before") != frame.get_column("qty")))   # the same codes
    else:
        changed = frame.join(known, on="channel_sku", how="left").filter(
            pl.col("before").is_null() | (pl.col("before") != pl.col("qty")))
    if _clean(layout, frame, checked):
        parts_of = pl.col("channel_sku").str.splitn(":", 2)      # as split_code does
        body = frame.select(code=parts_of.struct.field("field_0"),
                            subcode=parts_of.struct.field("field_1").fill_null(""),
                            channel_sku="channel_sku", sku="sku", name="name", qty=pl.col("qty").cast(pl.String),
                            location=pl.lit(feed.location, dtype=pl.String))
        return body, [(shop, c, q) for c, q in changed.select("channel_sku", "qty").iter_rows()], []
    published_before = dict(before)
    rows, changes, refused = [], [], []
    for code, product, name, qty in frame.select("channel_sku", "sku", "name", "qty").iter_rows():
        row, problem = feed_row(layout, shop, code, product, name, qty, feed)
        if row is None:
            if problem:
                refused.append((code, problem))
            continue
        rows.append(row)
        if published_before.get(code) != qty:
            changes.append((shop, code, qty))
    return rows_frame(rows), changes, refused


def _clean(layout: Layout, frame: pl.DataFrame, checked: dict) -> bool:
    """Whether every code and name can go in the file as it is (one look at them all; the names, the same
    products' in every shop, once a kind of file)."""
    codes = "\0".join(frame.get_column("channel_sku").to_list())
    if not (codes.isascii() or csvfile.encodable(layout, codes)):
        return False
    if layout.unsafe is not None and layout.unsafe.search(codes):
        return False
    kind = (layout.encoding, layout.unsafe and "name" in layout.headers and layout.unsafe.pattern,
            layout.opened_by == "software" and "name" in layout.headers)
    if kind not in checked:
        names = "\0".join(frame.get_column("name").to_list())
        checked[kind] = (csvfile.encodable(layout, names) and not (kind[1] and layout.unsafe.search(names))
                         and not (kind[2] and frame.get_column("name").str.contains(r"^[=+\-@\t\r]").any()))  # FORMULA_START
    return checked[kind]


def due(writer: FeedWriter, every_hours: float) -> list[str]:
    """The shops whose last full resync is every_hours old or more (or that never had one)."""
    if not every_hours:
        return []
    limit = clock.now() - timedelta(hours=every_hours)
    tx = writer.store.read()
    return [shop for shop in writer.feeds
            if (at := channel.last_resync(tx, shop)) is None or datetime.fromisoformat(at) <= limit]


def repush(writer: FeedWriter) -> dict[str, int]:
    """The right figures of the SKUs a channel's download showed drifted, written again."""
    out = {}
    for shop, codes in channel.repush_wanted(writer.store.read()).items():
        with writer.store.transaction() as tx:      # a few SKUs: worked out as a change is, in the write
            feed = writer.feeds.get(shop)
            products = {p for c in codes if (p := catalog.product_for(tx, shop, c))} if feed else set()
            rows = writer._shop_rows(tx, shop, feed, products, force=True) if products else None
            if rows:
                writer._write(tx, shop, *rows)
            channel.repushed(tx, shop, codes)       # a code no product has any more is not written
        out[shop] = len(rows[1]) if rows else 0
    return out
