"""Absolute stock counts (棚卸・在庫取込): set on-hand to what was counted, never add."""
from __future__ import annotations

import dataclasses

from tsunagi.oms import allocate, catalogrules, orders, status, stock
from tsunagi.oms.records import StockRecord
from tsunagi.oms.store import Tx


def apply_count(tx: Tx, rec: StockRecord, ref: str, known_only: bool = False, sku_case: str = "refuse") -> bool:
    """Set on-hand for one SKU/location/lot; True when it changed. Counting the same again is a no-op.

    A count below what is reserved there makes the most recent orders give way (引当待ち) until it
    fits, so reserved never exceeds on hand; they are placed again from other stock afterwards."""
    problem = stock.check_count(rec)
    if problem:
        raise ValueError(problem)
    if known_only:     # a product's own count, never a set's (catalogrules.Refused is a ValueError)
        rec = dataclasses.replace(rec, sku=catalogrules.counted_sku(tx, rec.sku, sku_case))
    stock.ensure_location(tx, rec.location)
    on_hand, reserved = stock.slot(tx, rec.sku, rec.location, rec.lot)
    if on_hand == rec.qty:
        return False
    for order_id in allocate.orders_on_slot(tx, rec.sku, rec.location, rec.lot):
        if reserved <= rec.qty:
            break
        orders.set_status(tx, order_id, status.AWAITING_STOCK,
                          note=f"在庫数の訂正で引当を解除 ({rec.sku} {rec.location} {rec.lot})")
        reserved = stock.slot(tx, rec.sku, rec.location, rec.lot)[1]
    stock.move(tx, rec.sku, rec.location, rec.lot, rec.qty - on_hand, 0, "count", ref)
    return True
