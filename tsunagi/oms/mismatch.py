"""金額不整合確認 (`ship mismatch`): shipped orders whose amounts differ from the channel's latest figure, with
the orders made from them counted in (split parts, orders a merge absorbed), refunds taken off, copies left out."""
from __future__ import annotations

import json

from tsunagi.oms import relations, status
from tsunagi.oms.store import Tx


def ship_mismatch(tx: Tx, shop: str | None = None) -> list[dict]:
    """Shipped or closed orders whose total, with their split parts' and less what was refunded
    (order-return --refund), differs from what the channel's latest order data says it charged for them
    (with the orders merged into them: each absorbed order's own figure). An order refunded but not yet
    changed by the channel shows. A split part is counted with its original, never alone; a copy for a
    re-shipment never (the channel never heard of it)."""
    out = []
    for order_id, shop_id, order_no, code, total, data in tx.all(
            "SELECT id, shop, order_no, status, total, data FROM orders WHERE status IN (?, ?) ORDER BY ordered_at, id",
            *status.SHIPPED_OR_CLOSED):
        if shop is not None and shop_id != shop:
            continue
        if relations.parent(tx, order_id, relations.SPLIT) is not None or relations.is_copy(tx, order_id):
            continue
        row = _family(tx, order_id, total, json.loads(data))
        if row is not None and row["channel_total"] != row["total"] - row.get("refunded", 0):
            out.append({"shop": shop_id, "order_no": order_no, "status": code} | row)
    return out


def _family(tx: Tx, order_id: int, total: int, data: dict) -> dict | None:
    """The order's figures with its split parts and merged orders: total (what tsunagi ships for), channel_total
    (what the channel charged), refunded, related (their numbers). None when the channel has said nothing
    and nothing was refunded: there is nothing to compare."""
    channel, refunded, said = data.get("channel_total"), data.get("refunded", 0), data.get("channel_total") is not None
    related, whole = [], total
    for part in relations.children(tx, order_id, relations.SPLIT):
        no, code, amount, other = tx.one("SELECT order_no, status, total, data FROM orders WHERE id = ?", part)
        related.append(no)
        whole += amount                     # what the channel charged under the original number
        total += 0 if code == status.CANCELLED else amount
        refunded += json.loads(other).get("refunded", 0)
    own = whole
    merged = 0
    for absorbed in relations.children(tx, order_id, relations.MERGE):
        no, amount, other = tx.one("SELECT order_no, total, data FROM orders WHERE id = ?", absorbed)
        related.append(no)
        figure = json.loads(other).get("channel_total")
        said = said or figure is not None
        own -= amount                       # the survivor's total holds the absorbed orders' since the merge
        merged += amount if figure is None else figure
    if not said and not refunded:
        return None
    row = {"total": total, "channel_total": (own if channel is None else channel) + merged}
    return row | ({"refunded": refunded} if refunded else {}) | ({"related": related} if related else {})
