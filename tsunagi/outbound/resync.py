"""Full resyncs: every channel SKU's current figure written to its shop's stock file, worked out in bulk."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tsunagi.common import clock
from tsunagi.oms import catalog, fullcatalog, outbox, published as channel, stock
from tsunagi.outbound import csvfile
from tsunagi.outbound.feeds import FIELDS, FeedWriter, feed_row, published, split_code
from tsunagi.outbound.layouts import Layout

log = logging.getLogger("tsunagi.feeds")


def resync(writer: FeedWriter, shops: list[str] | None = None, only: dict[str, list[str]] | None = None) -> dict[str, int]:
    """shop -> SKUs written: every channel SKU of each shop (only: just these codes of these shops, a drift's).

    The figures are worked out on one snapshot, without the write lock; each shop's file is then written in a
    short transaction that works out again the SKUs changed since, so the file holds the figures as of its
    commit (see FeedWriter._freshen) and is merged into the shop's unsent file like any other."""
    names = [s for s in writer.feeds if (shops is None or s in shops) and (only is None or s in only)]
    with writer.store.snapshot() as tx:
        seen = outbox.last_id(tx)
        parts, free, titles = fullcatalog.components(tx), stock.free_by_sku(tx), fullcatalog.names(tx)
        codes = {shop: fullcatalog.channel_codes(tx, shop) for shop in names}
    out: dict[str, int] = {}
    for shop in names:
        feed = writer.feeds[shop]
        mine = codes[shop] if only is None else {c: p for c in only[shop] if (p := codes[shop].get(c))}
        layout = writer.layouts.load("stock", feed.layout, FIELDS)
        values, changes, refused = _columns(layout, shop, feed, mine, parts, free, titles)
        with writer.store.transaction() as tx:
            later = outbox.keys_after(tx, outbox.STOCK, seen)
            stale = catalog.affected_products(tx, later) & set(mine.values()) if later else set()
            fresh = writer._shop_rows(tx, shop, feed, stale, force=True) if stale else None
            if fresh:           # appended: the merge keeps a SKU's last row
                for f in FIELDS:
                    values[f] += [r[f] for r in fresh[1]]
                changes += fresh[2]
                refused += fresh[3]
            writer.write_columns(tx, shop, layout, values, changes, refused)
            if only is None:
                channel.record_resync(tx, shop)
            else:
                channel.repushed(tx, shop, only[shop])
        out[shop] = len(changes)
        log.info("shop %s: %s of %d SKUs written", shop, "full resync" if only is None else "drift repush", len(changes))
    return out


def _columns(layout: Layout, shop: str, feed, codes: dict[str, str], parts: dict, free: dict[str, int],
             titles: dict[str, str]) -> tuple[dict[str, list[str]], list, list]:
    """(field -> values, figures, refused) for these codes; a batch with nothing the file cannot carry (the
    usual case) is checked as a whole, any other row by row as FeedWriter does it."""
    order = sorted(codes)
    products = [codes[c] for c in order]
    qtys = [published(parts.get(p) or [(p, 1)], free, feed.safety_stock) for p in products]
    names = [titles.get(p, "") for p in products]
    if _clean(layout, order, names):
        split = [split_code(c) for c in order]
        values = {"code": [h for h, _ in split], "subcode": [v for _, v in split], "channel_sku": order,
                  "sku": products, "name": names, "qty": [str(q) for q in qtys], "location": [feed.location] * len(order)}
        return values, [(shop, c, q) for c, q in zip(order, qtys)], []
    values = {f: [] for f in FIELDS}
    changes, refused = [], []
    for code, product, name, qty in zip(order, products, names, qtys):
        row, problem = feed_row(layout, shop, code, product, name, qty, feed)
        if row is None:
            if problem:
                refused.append((code, problem))
            continue
        for f in FIELDS:
            values[f].append(row[f])
        changes.append((shop, code, qty))
    return values, changes, refused


def _clean(layout: Layout, codes: list[str], names: list[str]) -> bool:
    """Whether every code and name can go in the file as it is (one look at them all)."""
    if not (csvfile.encodable(layout, "\n".join(codes)) and csvfile.encodable(layout, "\n".join(names))):
        return False
    if layout.unsafe is not None and (layout.unsafe.search("\0".join(codes)) or
                                      ("name" in layout.headers and layout.unsafe.search("\0".join(names)))):
        return False
    formula = layout.opened_by == "software" and "name" in layout.headers
    return not (formula and any(n.startswith(csvfile.FORMULA_START) for n in names))


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
    wanted = {shop: codes for shop, codes in channel.repush_wanted(writer.store.read()).items() if shop in writer.feeds}
    return resync(writer, only=wanted) if wanted else {}
