"""出荷 as the console shows it: ready orders per carrier, the label files written, a file's orders, the
picking list, and a 納品書's amounts per tax rate."""
from __future__ import annotations

from collections import defaultdict

from tsunagi.oms import catalog, status
from tsunagi.oms.shipping import LIVE
from tsunagi.oms.store import Tx

RATES = (10, 8)       # 標準税率 and 軽減税率, percent


def ready_by_carrier(tx: Tx, limit: int = 500) -> dict[str, list[dict]]:
    """印刷待ち orders per carrier, oldest first; each says whether its label was exported already."""
    out: dict[str, list[dict]] = defaultdict(list)
    for order_id, shop, order_no, carrier, total, at, exported in tx.all(
            "SELECT o.id, o.shop, o.order_no, o.carrier, o.total, o.ordered_at, EXISTS (SELECT 1 FROM shipment_orders so "
            "JOIN shipments s ON s.id = so.shipment_id WHERE so.order_id = o.id AND s.state IN (?, ?)) FROM orders o "
            "WHERE o.status = ? ORDER BY o.carrier, o.ordered_at, o.id LIMIT ?", *LIVE, status.READY, limit):
        out[carrier or ""].append({"id": order_id, "shop": shop, "order_no": order_no, "total": total, "at": at,
                                   "exported": bool(exported)})
    return dict(out)


def label_files(tx: Tx, limit: int = 50) -> list[dict]:
    """The label files written, newest first: carrier, name, when, parcels, and how many are shipped."""
    rows = tx.all("SELECT carrier, file, MIN(exported_at), COUNT(*), SUM(state = 'shipped') FROM shipments "
                  "WHERE file <> '' GROUP BY carrier, file ORDER BY MIN(exported_at) DESC, file DESC LIMIT ?", limit)
    return [{"carrier": c, "file": f, "at": a, "parcels": n, "shipped": s or 0} for c, f, a, n, s in rows]


def file_orders(tx: Tx, name: str) -> list[int]:
    """The orders whose parcels a label file holds, in the file's order."""
    return [r[0] for r in tx.all(
        "SELECT DISTINCT so.order_id FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
        "WHERE s.file = ? ORDER BY s.id, so.order_id", name)]


def picking(tx: Tx, order_ids: list[int]) -> tuple[list[dict], list[dict]]:
    """The picking list: (per SKU the total to pick, per order its lines), by SKU."""
    total: dict[tuple[str, str], int] = defaultdict(int)
    per_order = []
    for order_id in order_ids:
        shop, order_no, name = tx.one("SELECT shop, order_no, json_extract(data, '$.ship_to.name') FROM orders "
                                      "WHERE id = ?", order_id)
        lines = [{"sku": s or c, "name": n, "qty": q} for s, c, n, q in tx.all(
            "SELECT sku, channel_sku, name, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", order_id)]
        for line in lines:
            total[(line["sku"], line["name"])] += line["qty"]
        per_order.append({"id": order_id, "shop": shop, "order_no": order_no, "ship_to": name or "", "lines": lines})
    totals = [{"sku": s, "name": n, "qty": q} for (s, n), q in sorted(total.items())]
    return totals, per_order


def rate_of(tx: Tx, sku: str | None, reduced_tag: str) -> int:
    """8 for a product tagged as 軽減税率 (food and drink), else 10."""
    return 8 if sku and reduced_tag and reduced_tag in catalog.tags(tx, sku) else 10


def tax_summary(amounts: dict[int, int]) -> list[dict]:
    """Per rate: the tax-included amount and the tax in it (rounded down once per rate, as 適格請求書 asks)."""
    return [{"rate": r, "amount": amounts.get(r, 0), "tax": amounts.get(r, 0) * r // (100 + r)}
            for r in RATES if amounts.get(r, 0)]
