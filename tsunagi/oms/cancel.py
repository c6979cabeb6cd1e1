"""A person cancelling an order, or one of its lines: stock given back, a written label voided, the warehouse told."""
from __future__ import annotations

from tsunagi.oms import allocate, status, voids
from tsunagi.oms.editlines import Changed, check_open, remove_line
from tsunagi.oms.orders import by_whom, set_status
from tsunagi.oms.store import Tx


def cancel_order(tx: Tx, order_id: int, by: str = "", reason: str = "") -> Changed:
    """キャンセル: the reservation is released (a warehouse's order keeps it until the warehouse cancels,
    which its next cancel file asks), an exported label is voided, and no later buyer mail goes out."""
    check_open(tx, order_id, "cancelled")
    note = "キャンセル" + (f": {reason}" if reason else "") + by_whom(by)
    set_status(tx, order_id, status.CANCELLED, note=note)     # refused while a warehouse works on it
    voided = voids.void_labels(tx, order_id, "注文のキャンセル")
    total = tx.value("SELECT total FROM orders WHERE id = ?", order_id)
    return Changed(status.CANCELLED, total, voided, allocate.warehouse_has(tx, order_id) or "")


def cancel_line(tx: Tx, order_id: int, n: int, by: str = "", reason: str = "") -> Changed:
    """Line n cancelled: taken out with the totals and stock following; the only line cancels the order."""
    check_open(tx, order_id, "cancelled")
    count = tx.value("SELECT COUNT(*) FROM order_lines WHERE order_id = ?", order_id)
    if count == 1 and n == 1:
        return cancel_order(tx, order_id, by, "明細1 (唯一の明細)" + (f": {reason}" if reason else ""))
    return remove_line(tx, order_id, n, by, verb="明細キャンセル", reason=reason)
