"""Allocation (引当): reserve an order's whole need from stock, or nothing; release it again."""
from __future__ import annotations

from tsunagi.oms import stock
from tsunagi.oms.store import Tx


def reserve_all(tx: Tx, order_id: int, needs: dict[str, int]) -> bool:
    """Reserve every SKU's need, or reserve nothing and return False (no partial allocation)."""
    plan: list[tuple[str, str, str, int]] = []
    for sku, qty in sorted(needs.items()):
        remaining = qty
        for location, lot, free in stock.free_slots(tx, sku):
            take = min(free, remaining)
            plan.append((sku, location, lot, take))
            remaining -= take
            if remaining == 0:
                break
        if remaining > 0:
            return False
    ref = f"order:{order_id}"
    for sku, location, lot, take in plan:
        stock.move(tx, sku, location, lot, 0, take, "reserve", ref)
        tx.run("INSERT INTO reservations (order_id, sku, location, lot, qty) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (order_id, sku, location, lot) DO UPDATE SET qty = reservations.qty + excluded.qty",
               order_id, sku, location, lot, take)
    return True


def release(tx: Tx, order_id: int, cause: str) -> None:
    for sku, location, lot, qty in tx.all(
            "SELECT sku, location, lot, qty FROM reservations WHERE order_id = ?", order_id):
        stock.move(tx, sku, location, lot, 0, -qty, cause, f"order:{order_id}")
    tx.run("DELETE FROM reservations WHERE order_id = ?", order_id)


def has_reservation(tx: Tx, order_id: int) -> bool:
    return tx.one("SELECT 1 FROM reservations WHERE order_id = ? LIMIT 1", order_id) is not None


def orders_on_slot(tx: Tx, sku: str, location: str, lot: str) -> list[int]:
    """Orders holding this slot, the most recent first: they give way first when a count drops."""
    return [r[0] for r in tx.all(
        "SELECT r.order_id FROM reservations r JOIN orders o ON o.id = r.order_id "
        "WHERE r.sku = ? AND r.location = ? AND r.lot = ? ORDER BY o.ordered_at DESC, o.id DESC",
        sku, location, lot)]


def warehouse_has(tx: Tx, order_id: int) -> str | None:
    """The warehouse that was told to ship the order and has not cancelled it (it may ship it, or has)."""
    return tx.value("SELECT wms FROM wms_orders WHERE order_id = ? AND state <> 'cancelled' LIMIT 1", order_id)
