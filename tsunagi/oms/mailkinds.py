"""Mails that are not a whole order: one item of an order (Qoo10), an order's new content, its cancellation."""
from __future__ import annotations

import json

from tsunagi.common.clock import timestamp
from tsunagi.oms import adopt, allocate, orders
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx

# OrderRecord.channel_status of those mails (parsers.mailspec.KIND_STATUS; "cancelled" is orders' own)
ITEM_MAIL = "item_mail"
CHANGED = "changed"


def apply(tx: Tx, rec: OrderRecord) -> str:
    """orders.apply_order, for each kind of mail what it means."""
    if rec.channel_status == ITEM_MAIL:
        return add_item(tx, rec)
    result = orders.apply_order(tx, rec)
    if rec.channel_status == CHANGED and result == "conflict":
        order_id, _ = orders.find(tx, rec.shop, rec.order_no)
        try:       # the cart's own word on its order: its new content is the order now
            adopt.adopt(tx, order_id, by="カートの注文変更メール")
            return "changed"
        except orders.OrderError:   # shipped, or at a warehouse: the hold stays for a person
            return result
    return result


def _key(code: str, name: str, options, qty: int, price: int) -> tuple:
    return code, name, tuple(json.loads(options) if isinstance(options, str) else options), qty, price


def add_item(tx: Tx, rec: OrderRecord) -> str:
    """One item's mail: the first makes the order, each later one adds its line (in whatever order they come); a
    line the order has already (the same mail again) adds nothing."""
    found = orders.find(tx, rec.shop, rec.order_no)
    if found is None:
        return orders.apply_order(tx, rec)
    order_id, current = found
    have = {_key(*row) for row in tx.all(
        "SELECT channel_sku, name, options, qty, unit_price FROM order_lines WHERE order_id = ?", order_id)}
    new = [x for x in rec.lines if _key(x.channel_sku, x.name, x.options, x.qty, x.unit_price) not in have]
    if not new:
        return "unchanged"
    if current in orders.FINAL:
        orders.note_history(tx, order_id, f"後から届いた商品 {', '.join(x.channel_sku for x in new)} は追加しません "
                                          f"(注文は既に{current})")
        return "unchanged"
    last = tx.value("SELECT MAX(line_no) FROM order_lines WHERE order_id = ?", order_id) or 0
    tx.many("INSERT INTO order_lines (order_id, line_no, channel_sku, name, options, qty, unit_price) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(order_id, last + n, x.channel_sku, x.name, json.dumps(list(x.options), ensure_ascii=False), x.qty,
              x.unit_price) for n, x in enumerate(new, 1)])
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    for key in ("total", "shipping_fee", "cod_fee", "discount"):
        data[key] = data.get(key, 0) + getattr(rec, key)
    tx.run("UPDATE orders SET total = total + ?, data = ?, updated_at = ? WHERE id = ?", rec.total,
           json.dumps(data, ensure_ascii=False), timestamp(), order_id)
    if not allocate.warehouse_has(tx, order_id):
        allocate.release(tx, order_id, "release:item-mail")     # reserved again with the new line
    orders.place(tx, order_id)
    return "updated"
