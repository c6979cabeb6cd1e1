"""出荷確定戻し: a shipped order back to 印刷待ち, its units back in stock and reserved, its parcel cancelled."""
from __future__ import annotations

from collections import defaultdict

from tsunagi.oms import status, voids
from tsunagi.oms.orders import OrderError, by_whom, note_history, set_status
from tsunagi.oms.stock import move
from tsunagi.oms.store import Tx

SHIPPED = status.SHIPPED_OR_CLOSED


def check_shipped(tx: Tx, order_id: int, doing: str) -> str:
    """The order's status if it has shipped (出荷確定済 or 請求済); else a one-line refusal."""
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    if current not in SHIPPED:
        raise OrderError(f"the order is {status.label(current)} ({current}), not shipped: it cannot be {doing}")
    return current


def shipped_units(tx: Tx, order_id: int) -> dict[tuple[str, str, str], int]:
    """Units the order's shipments took out of stock and an unship has not put back, by (sku, location, lot)."""
    units: dict[tuple[str, str, str], int] = defaultdict(int)
    for sku, location, lot, d in tx.all("SELECT sku, location, lot, d_on_hand FROM ledger WHERE ref = ? "
                                        "AND cause IN ('ship', 'unship')", f"order:{order_id}"):
        units[(sku, location, lot)] -= d
    return {slot: qty for slot, qty in units.items() if qty > 0}


def unship(tx: Tx, order_id: int, by: str = "") -> list[str]:
    """The order back to 印刷待ち: what shipped is put back on hand and reserved for it again, its shipped
    parcels cancelled (so the next export carries it and its next shipment is confirmed again, even when
    the channel already had a confirmation). Returns the cancelled parcels' keys."""
    check_shipped(tx, order_id, "unshipped")
    if tx.one("SELECT 1 FROM ledger WHERE ref = ? AND cause = 'return' LIMIT 1", f"order:{order_id}"):
        raise OrderError("the order has returned units (tsunagi order-return): it cannot be unshipped")
    units = shipped_units(tx, order_id)
    if not units:     # closed at go-live or shipped before tsunagi: nothing of ours left the shelf
        raise OrderError("tsunagi never shipped this order (no units left its stock): it cannot be unshipped")
    ref = f"order:{order_id}"
    for (sku, location, lot), qty in sorted(units.items()):
        move(tx, sku, location, lot, qty, qty, "unship", ref)
        tx.run("INSERT INTO reservations (order_id, sku, location, lot, qty) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (order_id, sku, location, lot) DO UPDATE SET qty = reservations.qty + excluded.qty",
               order_id, sku, location, lot, qty)
    keys = _cancel_parcels(tx, order_id)
    set_status(tx, order_id, status.READY,
               note=f"出荷確定戻し (送り状 {', '.join(keys) or '-'} を取消、在庫を戻して再引当){by_whom(by)}")
    return keys


def _cancel_parcels(tx: Tx, order_id: int) -> list[str]:
    """The order leaves its shipped parcels; a parcel no other order is in is cancelled (同梱の相手は出荷済のまま)."""
    keys = []
    for shipment_id, key, _, tracking in voids.parcels(tx, order_id, ("shipped", "exported")):
        voids.leave(tx, shipment_id, order_id)
        note_history(tx, order_id, f"送り状 {key} (追跡番号 {tracking or '-'}) を取消: 出荷確定戻し")
        keys.append(key)
    for (wms,) in tx.all("SELECT wms FROM wms_orders WHERE order_id = ?", order_id):
        # the warehouse's shipment is undone: the order may be instructed again
        tx.run("DELETE FROM wms_orders WHERE order_id = ? AND wms = ?", order_id, wms)
    return keys
