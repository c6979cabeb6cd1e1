"""Warehouse (WMS) exchange: instructions for warehouse-tagged lines, cancels, locks while in process."""
from __future__ import annotations

from tsunagi.common.clock import timestamp
from tsunagi.oms import allocate, catalog, orders, shipping, status
from tsunagi.oms.records import ShipmentResult
from tsunagi.oms.store import Tx

# A warehouse state an order never leaves for another instruction: once told, never told again.
STATES = ("instructed", "in_process", "cancel_requested", "cancelled", "shipped")
CANCELLED_BY_WAREHOUSE = "倉庫でキャンセル"


def to_instruct(tx: Tx, wms: str, statuses: list[str], tag: str) -> list[tuple[int, list[str]]]:
    """Orders in the given statuses never sent to this warehouse, with their SKUs that carry the tag."""
    out = []
    statuses = [s for s in statuses if s != status.PAYMENT]     # an unpaid order never reaches a warehouse
    if not statuses:
        return out
    marks = ",".join("?" * len(statuses))
    for (order_id,) in tx.all(f"SELECT id FROM orders WHERE status IN ({marks}) AND id NOT IN "
                              "(SELECT order_id FROM wms_orders WHERE wms = ?) ORDER BY ordered_at, id", *statuses, wms):
        skus = [sku for (sku,) in tx.all("SELECT DISTINCT sku FROM order_lines WHERE order_id = ? AND sku <> '' "
                                         "ORDER BY sku", order_id) if tag in catalog.tags(tx, sku)]
        if skus:
            out.append((order_id, skus))
    return out


def instruction_key(order_id: int) -> str:
    """The instruction number an order's warehouse results come back by."""
    return f"W{order_id:08d}"


def instruct(tx: Tx, wms: str, order_id: int, skus: list[str]) -> str:
    """Record the instruction as a shipment of those SKUs (its number is the key results come back by)."""
    all_skus = {r[0] for r in tx.all("SELECT sku FROM order_lines WHERE order_id = ?", order_id)}
    key = instruction_key(order_id)
    shipment_id = shipping.new_shipment(tx, key, wms, "", "" if set(skus) >= all_skus else ",".join(skus))
    tx.run("INSERT INTO shipment_orders (shipment_id, order_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
           shipment_id, order_id)
    tx.run("INSERT INTO wms_orders (order_id, wms, state, updated_at) VALUES (?, ?, 'instructed', ?)",
           order_id, wms, timestamp())
    return key


def withhold(tx: Tx, wms: str, order_id: int, problem: str) -> None:
    """An order whose instruction the warehouse's file cannot carry: held naming the field, never instructed
    (label_chars, as a label would be: corrected with order-set, it is placed again)."""
    orders.set_status(tx, order_id, status.HOLD, hold_kind="label_chars",
                      note=f"倉庫 {wms} の出荷指示に書けません: {problem} (tsunagi order-set で直してから tsunagi ship ready)")


def to_cancel(tx: Tx, wms: str) -> list[int]:
    """Orders cancelled in tsunagi after the warehouse was told to ship them."""
    return [r[0] for r in tx.all(
        "SELECT w.order_id FROM wms_orders w JOIN orders o ON o.id = w.order_id "
        "WHERE w.wms = ? AND w.state = 'instructed' AND o.status = ? ORDER BY w.order_id", wms, status.CANCELLED)]


def cancel_sent(tx: Tx, wms: str, order_id: int) -> None:
    _set(tx, wms, order_id, "cancel_requested")


def _set(tx: Tx, wms: str, order_id: int, state: str) -> None:
    tx.memo.pop("wms_in_process", None)
    tx.run("UPDATE wms_orders SET state = ?, updated_at = ? WHERE order_id = ? AND wms = ?", state, timestamp(), order_id, wms)


def apply_result(tx: Tx, rec: ShipmentResult) -> str:
    """Any shipment result, a carrier's or a warehouse's: shipped goes through shipping (a warehouse's
    parcel counts whatever the order's status: it has left); a warehouse's in-process locks the order
    against status changes; its cancellation ends the instruction for good and holds the order."""
    found = tx.one("SELECT s.id, s.carrier, so.order_id, w.state, s.state, s.tracking FROM shipments s "
                   "JOIN shipment_orders so ON so.shipment_id = s.id LEFT JOIN wms_orders w ON w.order_id = so.order_id "
                   "AND w.wms = s.carrier WHERE s.key = ?", rec.key)
    instructed = found is not None and found[3] is not None
    row = found[:3] if found else None
    if rec.state == "shipped":
        outcome = shipping.apply_result(tx, rec, (found[0], found[4], found[5]) if found else None, left=instructed)
        if instructed:
            _set(tx, row[1], row[2], "shipped")
        return outcome
    if not instructed:
        raise shipping.ShippingError(f"出荷指示番号 {rec.key} は倉庫に指示した注文ではありません")
    shipment_id, wms, order_id = row
    if rec.state == "in_process":
        _set(tx, wms, order_id, "in_process")
        return "in_process"
    if rec.state == "cancelled":
        if found[3] == "cancelled":
            return "unchanged"
        _set(tx, wms, order_id, "cancelled")
        tx.run("UPDATE shipments SET state = 'cancelled' WHERE id = ?", shipment_id)
        _cancelled_by_warehouse(tx, wms, order_id, rec.key)
        return "wms_cancelled"
    raise shipping.ShippingError(f"出荷指示番号 {rec.key}: 状態 {rec.state!r} を解釈できません")


def _cancelled_by_warehouse(tx: Tx, wms: str, order_id: int, key: str) -> None:
    """The warehouse will not ship it: a cancelled order gives its units back now; any other open order
    is held (倉庫でキャンセル) for a person to decide, never turned into a label of its own accord."""
    current, reason = tx.one("SELECT status, hold_reason FROM orders WHERE id = ?", order_id)
    if current == status.CANCELLED:
        allocate.release(tx, order_id, "release:cancelled")
    elif current not in (status.SHIPPED, status.CLOSED):
        earlier = f" / それまでの保留理由: {reason}" if current == status.HOLD and reason else ""
        orders.set_status(tx, order_id, status.HOLD, hold_kind="wms_cancelled",
                          note=f"{CANCELLED_BY_WAREHOUSE} (倉庫 {wms}, 出荷指示番号 {key}){earlier}")


def instruction_lines(tx: Tx, order_id: int) -> list[tuple[str, str, int]]:
    """(sku, product name, quantity) of the order's lines, one per SKU, in line order."""
    return tx.all("SELECT l.sku, COALESCE(p.name, l.name), SUM(l.qty) FROM order_lines l LEFT JOIN products p "
                  "ON p.sku = l.sku WHERE l.order_id = ? GROUP BY l.sku ORDER BY MIN(l.line_no)", order_id)
