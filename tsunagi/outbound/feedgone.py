"""A deleted product leaves each stock feed: a channel that may hold a figure above 0 for it is told 0 first."""
from __future__ import annotations

import logging
from itertools import groupby
from pathlib import Path

import polars as pl

from tsunagi.oms import catalog, feedchain, outbound_tables
from tsunagi.oms.feedchain import Chain, Figure, Retired
from tsunagi.oms.store import Tx
from tsunagi.outbound import csvfile, feedrows, stockmerge
from tsunagi.outbound.stockmerge import DROP, KEEP, ZERO

log = logging.getLogger("tsunagi.feeds")

# The rule, per shop and code of a deleted product. What the channel holds is the figure of the last file it
# has read or will read whatever happens (sent, taken by a push, too large to merge into); the unsent file's row
# is not that, its figure before the unsent chain is (feedchain's `prior`).
# - It may hold more than 0: the unsent file's row becomes 0 (once); the code leaves the feed when that file
#   is no longer unsent, its 0 with it.
# - It holds 0, or never heard of the code: the code's row is dropped from the unsent file, and it leaves now.


def retire(writer) -> list[Path]:
    """Each shop's deleted codes handled as the rule says (writer: the FeedWriter of outbound/feeds.py, which
    calls this first in each flush); the files written."""
    if not feedchain.retiring(writer.store.read()):
        return []
    written: list[Path] = []
    with writer.store.transaction() as tx:
        for shop, items in groupby(feedchain.retiring(tx), key=lambda r: r.shop):
            items = _not_made_again(tx, shop, list(items))
            feed = writer.feeds.get(shop)
            if feed is None:              # the shop has no stock feed any more: nobody to tell
                feedchain.gone(tx, shop, [r.channel_sku for r in items])
            elif items and (path := _shop(writer, tx, shop, feed, items)):
                written.append(path)
    return written


def _not_made_again(tx: Tx, shop: str, items: list[Retired]) -> list[Retired]:
    """The items whose code no product has again; the others stay in the feed as the new product's."""
    again = [r.channel_sku for r in items if (p := catalog.product_for(tx, shop, r.channel_sku))
             and r.channel_sku in catalog.channel_codes(tx, shop, {p})]
    feedchain.kept(tx, shop, again)
    return [r for r in items if r.channel_sku not in again]


def _shop(writer, tx: Tx, shop: str, feed, items: list[Retired]) -> Path | None:
    chain = feedchain.current(tx, shop)
    figures = feedchain.figures(tx, shop, [r.channel_sku for r in items])
    if _waiting(writer.outbox_dir / shop, chain, items, figures):
        return None
    layout = writer.layouts.load("stock", feed.layout, feedrows.FIELDS)
    rows, codes = [], []
    for r in items:
        row, _ = feedrows.feed_row(layout, shop, r.channel_sku, r.sku, r.name, 0, feed)
        if row is None:           # a code the file cannot carry was never in it
            feedchain.gone(tx, shop, [r.channel_sku])
            continue
        rows.append(row)
        codes.append(r.channel_sku)
    if not rows:
        return None

    def decide(in_file: list[str | None], names: list[str]) -> list[str]:
        live = chain.number if chain.file in names else None
        return [_action(figures.get(code), held, live) for code, held in zip(codes, in_file)]

    gone = stockmerge.Gone(csvfile.frame_from(layout, feedrows.rows_frame(rows), feedrows.TEXT_FIELDS), decide)
    empty = pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(layout.columns))})
    merged, number = writer.merge(tx, shop, layout, empty, gone)
    told = [c for c, a in zip(codes, merged.actions) if a == ZERO]
    outbound_tables.record_published(tx, [(shop, c, 0) for c in told], number)
    left = [c for c, a in zip(codes, merged.actions) if a == DROP]
    feedchain.gone(tx, shop, left)
    if told or left:
        log.info("shop %s: deleted codes told 0 (%s), left the feed (%s)", shop, ", ".join(told) or "-",
                 ", ".join(left) or "-")
    return merged.path


def _action(figure: Figure | None, in_file: str | None, live_chain: int | None) -> str:
    """ZERO, DROP or KEEP for one code, from its published figure and its row in the unsent files (None: none);
    live_chain: the number of the chain those files are (None: a chain the store does not know)."""
    if in_file is None:           # the channel holds, or is about to read, the last figure published
        return ZERO if figure is not None and figure.qty > 0 else DROP
    in_chain = figure is not None and live_chain is not None and figure.chain == live_chain
    held = figure.prior if in_chain else (figure.qty if figure is not None else None)
    if held is not None and held > 0:
        return KEEP if in_file == "0" else ZERO
    return DROP


def _waiting(folder: Path, chain: Chain, items: list[Retired], figures: dict[str, Figure]) -> bool:
    """Whether every code's 0 is already in the unsent file, which is still there: nothing to do until it goes
    (looked at without reading the file, as this runs at every pass of the feed worker)."""
    return bool(chain.file) and all(
        (f := figures.get(r.channel_sku)) is not None and f.qty == 0 and f.chain == chain.number
        and f.prior is not None and f.prior > 0 for r in items) \
        and (folder / "ready" / chain.file).exists()
