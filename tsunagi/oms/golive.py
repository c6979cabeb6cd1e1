"""Go-live and history: orders the channel has already shipped or completed take no stock, label or mail."""
from __future__ import annotations

from datetime import date

from tsunagi.common.clock import timestamp
from tsunagi.oms import allocate, orders, recipients, relations, status, voids
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx

# OrderRecord.channel_status values (set by each CSV layout's status map) of orders the channel has handled.
HANDLED = {"shipped": "発送済み", "completed": "完了"}


def apply_order(tx: Tx, rec: OrderRecord) -> str:
    """orders.apply_order, except for a copy the channel says it shipped or completed: a new order is
    made closed (no reservation, label or mail: the cart's history); an open one is closed, or held when
    tsunagi itself has it in a label file or with a warehouse. Returns closed or held for those."""
    word = HANDLED.get(rec.channel_status)
    found = orders.find(tx, rec.shop, rec.order_no)
    if word is None or (found and found[1] in orders.FINAL):
        outcome = orders.apply_order(tx, rec)
        if found and outcome in ("updated", "confirmed"):     # the CSV after the mail names the recipients
            recipients.from_record(tx, found[0], rec)
        return outcome
    if found is None:
        order_id = orders.insert(tx, rec)
        orders.set_status(tx, order_id, status.CLOSED, note=f"受注CSVでチャネル{word}: 稼働前の注文として"
                                                           f"引当・送り状・メールなしで登録")
        return "closed"
    order_id = found[0]
    why = in_hand(tx, order_id)
    if why:
        orders.set_status(tx, order_id, status.HOLD, hold_kind="channel_shipped",
                          note=f"受注CSVではチャネル{word}ですが、{why}: 実際の出荷を確かめてください")
        return "held"
    close(tx, order_id, f"受注CSVでチャネル{word}: 引当を解除して完了")
    return "closed"


def in_hand(tx: Tx, order_id: int) -> str:
    """Why tsunagi itself may still ship the order ("" when nothing does): a label file, a warehouse, a parcel."""
    row = tx.one("SELECT s.key, s.file FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                 "WHERE so.order_id = ? AND s.state = 'exported' ORDER BY s.key LIMIT 1", order_id)
    if row:
        return f"送り状 {row[0]} が出力済み ({row[1] or '未記録'})"
    wms = allocate.warehouse_has(tx, order_id)
    if wms:
        return f"倉庫 {wms} に出荷指示済み"
    shipped = voids.shipped_part(tx, order_id)
    return f"一部出荷済み (追跡番号 {shipped})" if shipped else ""


def close(tx: Tx, order_id: int, note: str) -> list[str]:
    """完了 without shipping through tsunagi: the reservation is released (the feeds follow) and no
    buyer mail still waiting for the order goes out. Its split parts (-bk-N) go with it, the channel
    knowing only the original's number, except a part tsunagi itself may still ship (in_hand): their
    numbers are returned."""
    _close(tx, order_id, note)
    parts = []
    for part in relations.children(tx, order_id, relations.SPLIT):
        order_no, current = tx.one("SELECT order_no, status FROM orders WHERE id = ?", part)
        if current not in orders.FINAL and not in_hand(tx, part):
            _close(tx, part, f"{note} (分割元と一緒に)")
            parts.append(order_no)
    return parts


def _close(tx: Tx, order_id: int, note: str) -> None:
    allocate.release(tx, order_id, f"release:{status.CLOSED}")
    orders.set_status(tx, order_id, status.CLOSED, note=note)
    tx.run("UPDATE mails SET state = 'cancelled', answer = ?, updated_at = ? WHERE order_id = ? AND state = 'queued'",
           "稼働前の注文として完了", timestamp(), order_id)


def closed_as_history(tx: Tx, order_id: int) -> bool:
    """Whether the order was closed without ever shipping through tsunagi (go-live): no stage mails it."""
    return tx.one("SELECT 1 FROM orders o WHERE o.id = ? AND o.status = ? AND NOT EXISTS (SELECT 1 FROM "
                  "order_history h WHERE h.order_id = o.id AND h.to_status = ?)",
                  order_id, status.CLOSED, status.SHIPPED) is not None


def close_before(tx: Tx, before: date, shop: str | None, by: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Open orders ordered before the date closed as handled in the cart (go-live); those tsunagi itself
    may still ship are left, and so are re-shipment copies (-cp-N: a person made them to ship). A split part
    goes with its original. Returns the order numbers closed, and (order number, why) of those left."""
    sql = (f"SELECT id, order_no FROM orders WHERE status NOT IN ({', '.join('?' * len(orders.FINAL))}) "
           "AND ordered_at < ?" + (" AND shop = ?" if shop else "") + " ORDER BY ordered_at, id")
    closed, left = [], []
    for order_id, order_no in tx.all(sql, *sorted(orders.FINAL), before.isoformat(), *([shop] if shop else [])):
        if order_no in closed or relations.is_copy(tx, order_id):     # closed with its original; a person's copy
            continue
        why = in_hand(tx, order_id)
        if why:
            left.append((order_no, why))
            continue
        parts = close(tx, order_id, f"稼働前の注文として完了 ({before.isoformat()} より前の注文){orders.by_whom(by)}")
        closed += [order_no, *parts]
    return closed, left
