"""Warehouse instruction and cancel files: what the WMS should ship, and what it should not after all."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.common import clock
from tsunagi.oms import catalog, wms
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound import csvfile
from tsunagi.outbound.layouts import SHIPPED, Layouts


@dataclass
class WmsTarget:
    name: str
    statuses: list[str]
    tag: str = "wms"
    packaging_tags: list[str] = field(default_factory=list)
    layout: str = "wms-instruction"
    cancel_layout: str = "wms-cancel"
    layouts: Layouts = SHIPPED   # where its layout is found (config's csv.layout_dir, then the shipped ones)


@dataclass
class WmsResult:
    files: list[Path] = field(default_factory=list)
    instructed: int = 0
    cancelled: int = 0


def send(store: Store, outbox: Path, target: WmsTarget) -> WmsResult:
    """New instructions and cancels, each kind in one file, published once the transaction commits."""
    result = WmsResult()
    stamp = clock.now().strftime("%Y%m%dT%H%M%S_%f")
    folder = outbox / target.name
    with store.transaction() as tx:
        rows = []
        for order_id, skus in wms.to_instruct(tx, target.name, target.statuses, target.tag):
            key = wms.instruct(tx, target.name, order_id, skus)
            rows += instruction_rows(tx, order_id, key, skus, target)
            result.instructed += 1
        if rows:
            layout = target.layouts.load("wms", target.layout)
            result.files.append(csvfile.write_pending(tx, folder, f"{target.name}-instructions-{stamp}."
                                                      f"{layout.extension}", csvfile.render(layout, rows)))
        cancels = []
        for order_id in wms.to_cancel(tx, target.name):
            cancels.append({"key": f"W{order_id:08d}", "order_no": tx.value("SELECT order_no FROM orders WHERE id = ?",
                                                                              order_id)})
            wms.cancel_sent(tx, target.name, order_id)
        if cancels:
            layout = target.layouts.load("wms", target.cancel_layout)
            result.files.append(csvfile.write_pending(tx, folder, f"{target.name}-cancel-{stamp}."
                                                      f"{layout.extension}", csvfile.render(layout, cancels)))
            result.cancelled = len(cancels)
    csvfile.publish(result.files)
    return result


def instruction_rows(tx: Tx, order_id: int, key: str, skus: list[str], target: WmsTarget) -> list[dict]:
    shop, order_no, ordered_at, data = tx.one("SELECT shop, order_no, ordered_at, data FROM orders WHERE id = ?",
                                              order_id)
    data = json.loads(data)
    st, plan = data.get("ship_to") or {}, data.get("shipping") or {}
    head = {"key": key, "order_no": order_no, "shop": shop, "ordered_at": ordered_at[:10],
            "name": st.get("name", ""), "postal": st.get("postal_code", ""),
            "address": f"{st.get('prefecture', '')}{st.get('address', '')}", "phone": st.get("phone", ""),
            "carrier": plan.get("carrier", ""), "delivery": plan.get("delivery", data.get("delivery_method", "")),
            "time": plan.get("time", data.get("requested_time", "")), "requested_date": data.get("requested_date") or "",
            "payment": plan.get("payment", "")}
    rows = []
    for sku, name, qty in tx.all("SELECT l.sku, COALESCE(p.name, l.name), SUM(l.qty) FROM order_lines l LEFT JOIN "
                                 "products p ON p.sku = l.sku WHERE l.order_id = ? GROUP BY l.sku ORDER BY MIN(l.line_no)",
                                 order_id):
        if sku in skus:
            packaging = sorted(catalog.tags(tx, sku) & set(target.packaging_tags))
            rows.append({**head, "sku": sku, "item_name": name, "qty": str(qty), "packaging": " ".join(packaging)})
    return rows
