"""One row of a stock feed: a channel SKU's figure as the shop's layout writes it (feeds, resync, a deleted product's 0)."""
from __future__ import annotations

import logging
from typing import Protocol

import polars as pl

from tsunagi.outbound import csvfile

log = logging.getLogger("tsunagi.feeds")
FIELDS = ("code", "subcode", "channel_sku", "sku", "name", "qty", "location")
TEXT_FIELDS = {"name": "商品名"}     # free text; the rest are codes and numbers


class StockFeed(Protocol):
    """What a shop's stock feed needs; the configuration's shop.stock_feed table is one."""
    layout: str
    safety_stock: int
    location: str                 # the channel's own location name, for layouts that carry one


def split_code(channel_sku: str) -> tuple[str, str]:
    """'code:variant' -> ('code', 'variant'); a plain code has no variant."""
    code, _, variant = channel_sku.partition(":")
    return code, variant


def rows_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows of feed_row() as a frame of their fields."""
    return pl.DataFrame({f: [r[f] for r in rows] for f in FIELDS}, schema={f: pl.String for f in FIELDS})


def feed_row(layout, shop: str, code: str, product: str, name: str, qty: int, target: StockFeed) -> tuple[dict | None, str]:
    """The file's row for one channel SKU, or (None, why) when the file cannot carry it ("" when the code
    cannot even be written in the file's encoding: logged, not alerted, as before)."""
    if not csvfile.encodable(layout, code):
        log.error("shop %s: channel SKU %r cannot be written in %s; left out of the feed", shop, code, layout.encoding)
        return None, ""
    head, variant = split_code(code)
    row = {"code": head, "subcode": variant, "channel_sku": code, "sku": product,
           "name": name if csvfile.encodable(layout, name) else "", "qty": str(qty), "location": target.location}
    problem = "、".join(csvfile.problems(layout, row, TEXT_FIELDS))
    if problem:                 # a name the file cannot carry as is goes blank; what else cannot, is left out
        row["name"] = ""
        problem = "、".join(csvfile.problems(layout, row, TEXT_FIELDS))
    return (None, problem) if problem else (row, "")
