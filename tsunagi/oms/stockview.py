"""在庫 as the console shows it: figures per SKU and location, the ledger, receiving, and what each channel
was last told."""
from __future__ import annotations

from tsunagi.common.clock import timestamp
from tsunagi.oms import counting, orders, stock
from tsunagi.oms.records import StockRecord
from tsunagi.oms.store import Tx


def slots(tx: Tx, sku: str = "", limit: int = 500) -> list[dict]:
    """On hand, reserved and free per SKU and location (lots summed), SKUs from `sku` on."""
    rows = tx.all("SELECT s.sku, s.location, SUM(s.on_hand), SUM(s.reserved) FROM stock s "
                  "LEFT JOIN locations l ON l.location = s.location WHERE s.sku LIKE ? "
                  "GROUP BY s.sku, s.location ORDER BY s.sku, COALESCE(l.priority, 1000000), s.location LIMIT ?",
                  f"%{sku}%", limit)
    return [{"sku": s, "location": loc, "on_hand": h, "reserved": r, "free": h - r} for s, loc, h, r in rows]


def ledger(tx: Tx, sku: str = "", limit: int = 200) -> list[dict]:
    """The newest ledger lines first (of one SKU when named)."""
    sql = "SELECT at, sku, location, lot, d_on_hand, d_reserved, cause, ref FROM ledger"
    params: list = []
    if sku:
        sql += " WHERE sku = ?"
        params.append(sku)
    keys = ("at", "sku", "location", "lot", "d_on_hand", "d_reserved", "cause", "ref")
    return [dict(zip(keys, r)) for r in tx.all(sql + " ORDER BY id DESC LIMIT ?", *params, limit)]


def locations(tx: Tx) -> list[str]:
    return [r[0] for r in tx.all("SELECT location FROM locations ORDER BY priority, location")]


def lot_of(tx: Tx, sku: str, location: str, lot: str | None) -> str:
    """The lot meant: the one named, else the only lot the SKU has there ("" where it has none yet)."""
    if lot:
        return lot
    lots = [r[0] for r in tx.all("SELECT lot FROM stock WHERE sku = ? AND location = ? ORDER BY lot", sku, location)]
    if len(lots) > 1:
        raise ValueError(f"{sku} は {location} に複数のロットがあります ({', '.join(lots)}): ロットを指定してください")
    return lots[0] if lots else ""


def receive(tx: Tx, sku: str, location: str, lot: str | None, qty: int, reason: str) -> None:
    """+qty on hand (入荷) with the reason in the ledger; orders waiting for stock are placed again."""
    stock.ensure_location(tx, location)
    stock.move(tx, sku, location, lot_of(tx, sku, location, lot), qty, 0, "receive", reason)
    orders.retry_waiting(tx)


def set_count(tx: Tx, sku: str, location: str, lot: str | None, qty: int, ref: str) -> bool:
    """On hand set to what was counted now (棚卸); True when it changed."""
    changed = counting.apply_count(tx, StockRecord(sku, location, lot_of(tx, sku, location, lot), qty), ref)
    orders.retry_waiting(tx)
    return changed


def published(tx: Tx, limit: int = 500) -> list[dict]:
    """Per channel and channel code, the figure last published and when, newest first."""
    rows = tx.all("SELECT shop, channel_sku, qty, published_at FROM feed_state ORDER BY published_at DESC, shop, "
                  "channel_sku LIMIT ?", limit)
    return [{"shop": s, "channel_sku": c, "qty": q, "at": a} for s, c, q, a in rows]


def receive_ref(by: str) -> str:
    return f"console:{by}:{timestamp()}"
