"""Warehouse instruction and cancel files: what the WMS should ship, and what it should not after all."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tsunagi.common import clock
from tsunagi.oms import catalog, queries, recipients, wms
from tsunagi.oms.readmodel import load_order
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound import csvfile
from tsunagi.outbound.layouts import SHIPPED, Layouts


# Free text in an instruction (a spreadsheet would run it if it starts like a formula).
TEXT_FIELDS = {"name": "お届け先名", "address": "お届け先住所", "item_name": "商品名"}


class Warehouse(Protocol):
    """What the exchange needs of a warehouse; the configuration's [[wms]] table is one."""
    name: str
    statuses: list[str]              # orders in these statuses are instructed
    tag: str                         # for their lines whose product carries this tag
    packaging_tags: list[str]
    layout: str
    cancel_layout: str


@dataclass
class WmsResult:
    files: list[Path] = field(default_factory=list)
    instructed: int = 0
    cancelled: int = 0
    held: list[str] = field(default_factory=list)     # "order_no: reason" for orders held instead


def send(store: Store, outbox: Path, target: Warehouse, layouts: Layouts = SHIPPED) -> WmsResult:
    """New instructions and cancels, each kind in one file, published once the transaction commits."""
    result = WmsResult()
    stamp = clock.file_stamp()
    folder = outbox / target.name
    with store.transaction() as tx:
        rows = []
        todo = wms.to_instruct(tx, target.name, target.statuses, target.tag)
        layout = layouts.load("wms", target.layout) if todo else None
        for order_id, skus in todo:
            several = recipients.hold_from_warehouse(tx, target.name, order_id)
            if several:       # an instruction has one address: the order waits to be split by recipient
                result.held.append(f"{queries.order_ref(tx, order_id)[1]}: {several}")
                continue
            mine = instruction_rows(tx, order_id, wms.instruction_key(order_id), skus, target)
            # a value the layout cannot carry would shift a column: the order waits for a person instead
            problem = "、".join(dict.fromkeys(p for row in mine for p in csvfile.problems(layout, row, TEXT_FIELDS)))
            if problem:
                wms.withhold(tx, target.name, order_id, problem)
                result.held.append(f"{mine[0]['order_no']}: {problem}")
                continue
            wms.instruct(tx, target.name, order_id, skus)
            rows += mine
            result.instructed += 1
        if rows:
            result.files.append(csvfile.write_pending(tx, folder, f"{target.name}-instructions-{stamp}."
                                                      f"{layout.extension}", csvfile.render(layout, rows, TEXT_FIELDS)))
        cancels = []
        for order_id in wms.to_cancel(tx, target.name):
            cancels.append({"key": wms.instruction_key(order_id), "order_no": queries.order_ref(tx, order_id)[1]})
            wms.cancel_sent(tx, target.name, order_id)
        if cancels:
            layout = layouts.load("wms", target.cancel_layout)
            result.files.append(csvfile.write_pending(tx, folder, f"{target.name}-cancel-{stamp}."
                                                      f"{layout.extension}", csvfile.render(layout, cancels)))
            result.cancelled = len(cancels)
    csvfile.publish(result.files)
    return result


def instruction_rows(tx: Tx, order_id: int, key: str, skus: list[str], target: Warehouse) -> list[dict]:
    """One row per instructed SKU: the order's head (recipient, plan) with the SKU, its name and quantity."""
    order = load_order(tx, order_id)
    st, plan = order.recipient_of(), order.shipping     # the one recipient its lines go to (several are held)
    head = {"key": key, "order_no": order.order_no, "shop": order.shop, "ordered_at": order.ordered_at.date().isoformat(),
            "name": st.name, "postal": st.postal_code, "address": f"{st.prefecture}{st.address}", "phone": st.phone,
            "carrier": plan.carrier if plan else "", "delivery": plan.delivery if plan else order.delivery_method,
            "time": plan.time if plan else order.requested_time,
            "requested_date": order.requested_date.isoformat() if order.requested_date else "",
            "payment": plan.payment if plan else ""}
    rows = []
    for sku, name, qty in wms.instruction_lines(tx, order_id):
        if sku in skus:
            packaging = sorted(catalog.tags(tx, sku) & set(target.packaging_tags))
            rows.append({**head, "sku": sku, "item_name": name, "qty": str(qty), "packaging": " ".join(packaging)})
    return rows
