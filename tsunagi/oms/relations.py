"""Orders made from orders: split parts (-bk-N), orders absorbed by a merge (同梱), re-shipment copies (-cp-N)."""
from __future__ import annotations

import json
from collections import defaultdict

from tsunagi.common.clock import timestamp
from tsunagi.oms import catalog
from tsunagi.oms.store import Tx

SPLIT, MERGE, COPY = "split", "merge", "copy"
SUFFIX = {SPLIT: "bk", COPY: "cp"}


def record(tx: Tx, parent_id: int, child_id: int, kind: str, by: str) -> None:
    tx.run("INSERT INTO order_relations (parent_id, child_id, kind, at, by) VALUES (?, ?, ?, ?, ?)",
           parent_id, child_id, kind, timestamp(), by)


def parent(tx: Tx, child_id: int, kind: str) -> int | None:
    return tx.value("SELECT parent_id FROM order_relations WHERE child_id = ? AND kind = ?", child_id, kind)


def children(tx: Tx, parent_id: int, kind: str) -> list[int]:
    return [r[0] for r in tx.all("SELECT child_id FROM order_relations WHERE parent_id = ? AND kind = ? "
                                 "ORDER BY child_id", parent_id, kind)]


def confirmed(tx: Tx, order_id: int) -> bool:
    """Whether a shipment confirmation for the order has been written."""
    return tx.one("SELECT 1 FROM confirmations WHERE order_id = ? LIMIT 1", order_id) is not None


def is_copy(tx: Tx, order_id: int) -> bool:
    return parent(tx, order_id, COPY) is not None


def next_number(tx: Tx, shop: str, order_no: str, kind: str) -> str:
    """ORDER_NO-bk-1, -bk-2, … (or -cp-N): the first not taken in the shop."""
    n = 1
    while tx.one("SELECT 1 FROM orders WHERE shop = ? AND order_no = ?", shop, f"{order_no}-{SUFFIX[kind]}-{n}"):
        n += 1
    return f"{order_no}-{SUFFIX[kind]}-{n}"


FEES = ("shipping_fee", "cod_fee", "discount")


def new_order(tx: Tx, source_id: int, order_no: str, total: int, fees: bool = True) -> int:
    """A new order row with the source order's details (buyer, recipient, shipping plan) and this total;
    without the fees (shipping, COD, discount) where they stay with the source."""
    shop, ordered_at, source, data, mail_at, csv_at, carrier = tx.one(
        "SELECT shop, ordered_at, source, data, mail_at, csv_at, carrier FROM orders WHERE id = ?", source_id)
    data = json.loads(data)
    data.update(order_no=order_no, total=total)
    if not fees:
        data.update(dict.fromkeys(FEES, 0))
    data.pop("channel_total", None)          # the channel's figure is the original order's, not this one's
    stamp = timestamp()
    return tx.run("INSERT INTO orders (shop, order_no, status, ordered_at, total, source, data, created_at, "
                  "updated_at, mail_at, csv_at, carrier) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  shop, order_no, ordered_at, total, source, json.dumps(data, ensure_ascii=False), stamp, stamp,
                  mail_at, csv_at, carrier).lastrowid


def copy_lines(tx: Tx, from_id: int, to_id: int, after: int = 0) -> None:
    """One order's lines written again under another (a copy, a merge's survivor), numbered on from line `after`,
    each with its SKU and recipient as they are."""
    tx.run("INSERT INTO order_lines (order_id, line_no, channel_sku, sku, name, options, qty, unit_price, recipient) "
           "SELECT ?, line_no + ?, channel_sku, sku, name, options, qty, unit_price, recipient FROM order_lines "
           "WHERE order_id = ?", to_id, after, from_id)


def needs(tx: Tx, lines) -> dict[str, int]:
    """Units of each stocked SKU these (sku, qty) lines take (a set's components for a set)."""
    out: dict[str, int] = defaultdict(int)
    for sku, qty in lines:
        for part, per_unit in catalog.components(tx, sku):
            out[part] += per_unit * qty
    return out


def move_reservations(tx: Tx, from_id: int, to_id: int, units: dict[str, int] | None = None) -> None:
    """Reserved units change hands between orders (all of them, or these units of each SKU): the stock's
    reserved figures stay as they are, nothing is released and taken again."""
    for sku, location, lot, qty in tx.all("SELECT sku, location, lot, qty FROM reservations WHERE order_id = ? "
                                          "ORDER BY sku, location, lot", from_id):
        take = qty if units is None else min(qty, units.get(sku, 0))
        if take <= 0:
            continue
        if units is not None:
            units[sku] -= take
        tx.run("UPDATE reservations SET qty = qty - ? WHERE order_id = ? AND sku = ? AND location = ? AND lot = ?",
               take, from_id, sku, location, lot)
        tx.run("INSERT INTO reservations (order_id, sku, location, lot, qty) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (order_id, sku, location, lot) DO UPDATE SET qty = reservations.qty + excluded.qty",
               to_id, sku, location, lot, take)
    tx.run("DELETE FROM reservations WHERE order_id = ? AND qty <= 0", from_id)
