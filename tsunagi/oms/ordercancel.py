"""Cancel one order by tsunagi's own decision (an unpaid order past its deadline): stock released, with why."""
from __future__ import annotations

from tsunagi.oms import status
from tsunagi.oms.orders import FINAL, OrderError, set_status
from tsunagi.oms.store import Tx


def cancel(tx: Tx, order_id: int, why: str) -> None:
    """キャンセル with the reason in its history; set_status releases the reservation and its outbox event
    moves the stock feeds. (The smallest form: line edits and warehouse cancels are order-cancel's.)"""
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    if current in FINAL:
        raise OrderError(f"{status.label(current)}の注文はキャンセルできません")
    set_status(tx, order_id, status.CANCELLED, note=why)
