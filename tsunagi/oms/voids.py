"""Voiding a label already written for an order a person changed: the next export carries the new contents."""
from __future__ import annotations

from tsunagi.oms.orders import note_history
from tsunagi.oms.store import Tx


def void_labels(tx: Tx, order_id: int, why: str) -> list[tuple[str, str]]:
    """The order's exported carrier parcels (not a warehouse's instruction, which its own cancel ends) are
    cancelled and unlinked, so their orders are exported again; each order of a parcel is told in its
    history (a parcel shared by 同梱 is re-exported for all of them). Returns (key, file) of each."""
    voided = []
    for shipment_id, key, file, _ in parcels(tx, order_id, ("exported",), carriers_only=True):
        # a re-export takes the key again: it must not carry orders that left the parcel
        members = leave(tx, shipment_id)
        for member in members:
            note_history(tx, member, f"送り状 {key} ({file or '未記録'}) を無効化: {why}"
                                     + ("" if member == order_id else " (同梱の別注文の変更)"))
        voided.append((key, file))
    return voided


def parcels(tx: Tx, order_id: int, states: tuple[str, ...], carriers_only: bool = False) -> list[tuple]:
    """(id, key, file, tracking) of the order's parcels in these states, by key; carriers_only: not a warehouse's
    instruction (the shipment a warehouse told to ship the order is under its own name)."""
    sql = ("SELECT s.id, s.key, s.file, s.tracking FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
           f"WHERE so.order_id = ? AND s.state IN ({','.join('?' * len(states))})")
    if carriers_only:
        sql += " AND s.carrier NOT IN (SELECT wms FROM wms_orders WHERE order_id = ?)"
    return tx.all(sql + " ORDER BY s.key", order_id, *states, *([order_id] if carriers_only else []))


def leave(tx: Tx, shipment_id: int, order_id: int | None = None) -> list[int]:
    """The order (None: every order) leaves the parcel; a parcel no order is left in is cancelled. Returns the
    orders that left."""
    members = [r[0] for r in tx.all("SELECT order_id FROM shipment_orders WHERE shipment_id = ?", shipment_id)
               if order_id is None or r[0] == order_id]
    tx.many("DELETE FROM shipment_orders WHERE shipment_id = ? AND order_id = ?", [(shipment_id, m) for m in members])
    if tx.one("SELECT 1 FROM shipment_orders WHERE shipment_id = ? LIMIT 1", shipment_id) is None:
        tx.run("UPDATE shipments SET state = 'cancelled' WHERE id = ?", shipment_id)
    return members


def shipped_part(tx: Tx, order_id: int) -> str:
    """Tracking numbers of parcels of the order that have already shipped ("" when none has)."""
    rows = tx.all("SELECT s.tracking FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                  "WHERE so.order_id = ? AND s.state = 'shipped' ORDER BY s.key", order_id)
    return ", ".join(r[0] or "-" for r in rows)
