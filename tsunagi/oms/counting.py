"""Absolute stock counts (棚卸・在庫取込): set on-hand to what was counted, never add; never an older count."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from tsunagi.common import clock
from tsunagi.oms import allocate, catalogrules, orders, status, stock
from tsunagi.oms.records import StockRecord
from tsunagi.oms.store import Tx


class StaleCount(ValueError):
    """A count older than the one the slot's figure already comes from: refused, naming both times."""


def apply_count(tx: Tx, rec: StockRecord, ref: str, known_only: bool = False, sku_case: str = "refuse") -> bool:
    """Set on-hand for one SKU/location/lot; True when it changed. Counting the same again is a no-op.

    A count older than the slot's last one raises StaleCount (a late file must not undo a newer
    count); one of the same time is applied, as the later word. A count below what is reserved there
    makes the most recent orders give way (引当待ち) until it fits, so reserved never exceeds on hand;
    they are placed again from other stock afterwards."""
    problem = stock.check_count(rec)
    if problem:
        raise ValueError(problem)
    if known_only:     # a product's own count, never a set's (catalogrules.Refused is a ValueError)
        rec = dataclasses.replace(rec, sku=catalogrules.counted_sku(tx, rec.sku, sku_case))
    at = _aware(rec.counted_at) if rec.counted_at else clock.now()
    on_hand, reserved, last = stock.counted_slot(tx, rec.sku, rec.location, rec.lot)
    if last is not None and at < last:
        raise StaleCount(stale_message(rec, at, last))
    stock.ensure_location(tx, rec.location)
    if on_hand == rec.qty:
        if last is None or at > last:
            stock.note_counted(tx, rec.sku, rec.location, rec.lot, at, ref)
        return False
    for order_id in allocate.orders_on_slot(tx, rec.sku, rec.location, rec.lot):
        if reserved <= rec.qty:
            break
        orders.set_status(tx, order_id, status.AWAITING_STOCK,
                          note=f"在庫数の訂正で引当を解除 ({rec.sku} {rec.location} {rec.lot})")
        reserved = stock.slot(tx, rec.sku, rec.location, rec.lot)[1]
    stock.move(tx, rec.sku, rec.location, rec.lot, rec.qty - on_hand, 0, "count", ref)
    stock.note_counted(tx, rec.sku, rec.location, rec.lot, at, ref)
    return True


def stale_message(rec: StockRecord, at: datetime, last: datetime) -> str:
    """The refusal as an operator reads it: the SKU, the location (and lot), both times."""
    where = f"{rec.location} ロット {rec.lot}" if rec.lot else rec.location
    # seconds unless both fall in the same second (then the finer times tell them apart)
    spec = "seconds" if at.replace(microsecond=0) != last.replace(microsecond=0) else "microseconds"
    return (f"{rec.sku} ({where}): {_shown(at, spec)} 時点の在庫数 {rec.qty} は、より新しい {_shown(last, spec)} "
            f"時点の在庫数があるため反映しません")


def _aware(at: datetime) -> datetime:
    """A time without a zone is Japan time, as every time tsunagi reads."""
    return at if at.tzinfo else at.replace(tzinfo=clock.JST)


def _shown(at: datetime, spec: str) -> str:
    return at.astimezone(clock.JST).isoformat(sep=" ", timespec=spec).removesuffix("+09:00")
