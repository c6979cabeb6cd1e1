"""Orders held for a lot number the shop's lot table lacked: their lines read as SKUs once the table has them."""
from __future__ import annotations

from tsunagi.oms import orders, status
from tsunagi.oms.store import Tx

HOLD_KIND = "unknown_sku"     # the catalog's hold for a code it does not know: released the same way


def relink(tx: Tx, shop: str, table: dict[str, str]) -> int:
    """Lines of the shop's orders held for an unknown code that the table now maps: given their SKU and placed
    again; returns how many orders were placed."""
    placed = 0
    for (order_id,) in tx.all("SELECT id FROM orders WHERE shop = ? AND status = ? AND hold_kind = ?",
                              shop, status.HOLD, HOLD_KIND):
        lines = tx.all("SELECT line_no, channel_sku FROM order_lines WHERE order_id = ?", order_id)
        known = [(no, table[code]) for no, code in lines if code in table]
        if not known:
            continue
        for line_no, sku in known:
            tx.run("UPDATE order_lines SET channel_sku = ? WHERE order_id = ? AND line_no = ?", sku, order_id, line_no)
        if orders.place(tx, order_id) != status.HOLD:
            placed += 1
    return placed
