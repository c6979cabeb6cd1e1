"""An order a partial mail made (Amazon's "ship now": no prices, no address) is completed by its order CSV."""
from __future__ import annotations

from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx

# OrderRecord.channel_status of such a mail (parsers.mailspec.AWAITING_REPORT; oms does not import parsers)
AWAITING_REPORT = "awaiting_report"


def waiting(data: dict) -> bool:
    return data.get("channel_status") == AWAITING_REPORT


def complete(tx: Tx, order_id: int, merged: dict, rec: OrderRecord) -> dict:
    """The CSV's prices and total on the waiting order (the mail gave none); the order waits no more. Lines are
    matched by channel SKU; a SKU the CSV lacks keeps its price (the line comparison holds the order anyway)."""
    prices = {line.channel_sku: line.unit_price for line in rec.lines}
    for line_no, code in tx.all("SELECT line_no, channel_sku FROM order_lines WHERE order_id = ?", order_id):
        if code in prices:
            tx.run("UPDATE order_lines SET unit_price = ? WHERE order_id = ? AND line_no = ?",
                   prices[code], order_id, line_no)
    for key in ("total", "shipping_fee", "cod_fee", "discount"):
        merged[key] = getattr(rec, key)
    tx.run("UPDATE orders SET total = ? WHERE id = ?", rec.total, order_id)
    return dict(merged, channel_status=rec.channel_status)
