"""Read-only views of orders and stock, in the stable shape the command line prints as JSON."""
from __future__ import annotations

import json

from tsunagi.oms import shipping, status, wms
from tsunagi.oms.store import Tx


def order_view(tx: Tx, order_id: int, history: bool = False) -> dict:
    row = tx.one("SELECT shop, order_no, status, hold_kind, hold_reason, ordered_at, total, source, data, "
                 "mail_at, csv_at FROM orders WHERE id = ?", order_id)
    shop, order_no, code, hold_kind, hold_reason, ordered_at, total, source, data, mail_at, csv_at = row
    data = json.loads(data)
    view = {
        "shop": shop, "order_no": order_no, "status": code, "status_label": status.label(code),
        "ordered_at": ordered_at, "buyer": data.get("buyer", {}), "ship_to": data.get("ship_to", {}),
        "payment_method": data.get("payment_method", ""), "delivery_method": data.get("delivery_method", ""),
        "requested_date": data.get("requested_date"), "requested_time": data.get("requested_time", ""),
        "shipping_fee": data.get("shipping_fee", 0), "cod_fee": data.get("cod_fee", 0),
        "discount": data.get("discount", 0), "total": total, "source": source,
        "hold_reason": hold_reason, "hold_kind": hold_kind, "mail_at": mail_at, "csv_at": csv_at,
        "shipping": data.get("shipping") or {},
        "channel_status": data.get("channel_status", ""),
        "lines": [{"sku": r[0] or None, "channel_sku": r[1], "name": r[2], "options": json.loads(r[3]),
                   "qty": r[4], "unit_price": r[5]}
                  for r in tx.all("SELECT sku, channel_sku, name, options, qty, unit_price FROM order_lines "
                                  "WHERE order_id = ? ORDER BY line_no", order_id)],
        "reserved": [{"sku": r[0], "location": r[1], "lot": r[2], "qty": r[3]}
                     for r in tx.all("SELECT sku, location, lot, qty FROM reservations WHERE order_id = ? "
                                     "ORDER BY sku, location, lot", order_id)],
    }
    view["shipments"] = shipping.shipments_of(tx, order_id)
    view["warehouse"] = wms.state_of(tx, order_id)
    if history:
        view["history"] = [{"at": r[0], "from": r[1], "to": r[2], "note": r[3]} for r in tx.all(
            "SELECT at, from_status, to_status, note FROM order_history WHERE order_id = ? ORDER BY id",
            order_id)]
    return view


def order_ids(tx: Tx, status_code: str | None = None, shop: str | None = None) -> list[int]:
    sql, params = "SELECT id FROM orders WHERE 1 = 1", []
    if status_code:
        sql += " AND status = ?"
        params.append(status_code)
    if shop:
        sql += " AND shop = ?"
        params.append(shop)
    return [r[0] for r in tx.all(sql + " ORDER BY ordered_at, id", *params)]


def find_order(tx: Tx, shop: str, order_no: str) -> int | None:
    return tx.value("SELECT id FROM orders WHERE shop = ? AND order_no = ?", shop, order_no)


def unconfirmed(tx: Tx, cutoffs: dict[str, str]) -> list[int]:
    """Orders that came by mail and no order CSV has confirmed since; cutoffs: shop -> time before
    which the mail must have come for the gap to count."""
    out = []
    for shop, cutoff in cutoffs.items():
        out += [r[0] for r in tx.all(
            "SELECT id FROM orders WHERE shop = ? AND mail_at IS NOT NULL AND csv_at IS NULL "
            "AND mail_at < ? AND status <> ? ORDER BY ordered_at, id", shop, cutoff, status.CANCELLED)]
    return out


def mail_missing(tx: Tx, cutoffs: dict[str, str]) -> list[int]:
    """Orders that came by order CSV with no order mail, for shops that forward their mail."""
    out = []
    for shop, cutoff in cutoffs.items():
        out += [r[0] for r in tx.all(
            "SELECT id FROM orders WHERE shop = ? AND csv_at IS NOT NULL AND mail_at IS NULL "
            "AND csv_at < ? ORDER BY ordered_at, id", shop, cutoff)]
    return out


def ship_mismatch(tx: Tx, shop: str | None = None) -> list[dict]:
    """Shipped or closed orders whose total differs from the total in the channel's latest order data."""
    out = []
    for shop_id, order_no, code, total, data in tx.all(
            "SELECT shop, order_no, status, total, data FROM orders WHERE status IN (?, ?) ORDER BY ordered_at, id",
            status.SHIPPED, status.CLOSED):
        channel_total = json.loads(data).get("channel_total")
        if (shop is None or shop_id == shop) and channel_total is not None and channel_total != total:
            out.append({"shop": shop_id, "order_no": order_no, "status": code, "total": total,
                        "channel_total": channel_total})
    return out


def order_status(tx: Tx, order_id: int) -> str:
    return tx.value("SELECT status FROM orders WHERE id = ?", order_id, default="")
