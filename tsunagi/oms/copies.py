"""Copying an order for a re-shipment (再送): ORDER_NO-cp-N, its own lines and stock; never confirmed nor mailed."""
from __future__ import annotations

from tsunagi.oms import relations, status
from tsunagi.oms.orders import OrderError, by_whom, note_history, place
from tsunagi.oms.store import Tx


def copy_order(tx: Tx, order_id: int, by: str = "") -> tuple[str, str]:
    """A new order with the same recipient, lines and total (the amounts are the original's, for the records;
    the channel never hears of it), placed as a new order is: its stock reserved, or it waits."""
    shop, order_no, current, total = tx.one("SELECT shop, order_no, status, total FROM orders WHERE id = ?", order_id)
    if current == status.HOLD:
        raise OrderError(f"{order_no} is on hold (保留): release or correct it before copying it")
    new_no = relations.next_number(tx, shop, order_no, relations.COPY)
    new_id = relations.new_order(tx, order_id, new_no, total)
    relations.copy_lines(tx, order_id, new_id)
    relations.record(tx, order_id, new_id, relations.COPY, by)
    placed = place(tx, new_id)
    note_history(tx, new_id, f"{order_no} のコピー (再送用: 出荷通知・購入者メールなし){by_whom(by)}")
    note_history(tx, order_id, f"再送用コピー {new_no} を作成{by_whom(by)}")
    return new_no, placed
