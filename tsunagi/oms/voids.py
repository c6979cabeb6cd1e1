"""Voiding a label already written for an order a person changed: the next export carries the new contents."""
from __future__ import annotations

from tsunagi.oms.orders import note_history
from tsunagi.oms.store import Tx


def void_labels(tx: Tx, order_id: int, why: str) -> list[tuple[str, str]]:
    """The order's exported carrier parcels (not a warehouse's instruction, which its own cancel ends) are
    cancelled and unlinked, so their orders are exported again; each order of a parcel is told in its
    history (a parcel shared by 同梱 is re-exported for all of them). Returns (key, file) of each."""
    voided = []
    for shipment_id, key, file in tx.all(
            "SELECT s.id, s.key, s.file FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
            "WHERE so.order_id = ? AND s.state = 'exported' AND s.carrier NOT IN "
            "(SELECT wms FROM wms_orders WHERE order_id = ?) ORDER BY s.key", order_id, order_id):
        members = [r[0] for r in tx.all("SELECT order_id FROM shipment_orders WHERE shipment_id = ?", shipment_id)]
        tx.run("UPDATE shipments SET state = 'cancelled' WHERE id = ?", shipment_id)
        # a re-export takes the key again: it must not carry orders that left the parcel
        tx.run("DELETE FROM shipment_orders WHERE shipment_id = ?", shipment_id)
        for member in members:
            note_history(tx, member, f"送り状 {key} ({file or '未記録'}) を無効化: {why}"
                                     + ("" if member == order_id else " (同梱の別注文の変更)"))
        voided.append((key, file))
    return voided


def shipped_part(tx: Tx, order_id: int) -> str:
    """Tracking numbers of parcels of the order that have already shipped ("" when none has)."""
    rows = tx.all("SELECT s.tracking FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                  "WHERE so.order_id = ? AND s.state = 'shipped' ORDER BY s.key", order_id)
    return ", ".join(r[0] or "-" for r in rows)
