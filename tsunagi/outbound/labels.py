"""Carrier label files: ready orders grouped into shipments, written in the carrier's layout."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from tsunagi.common import clock
from tsunagi.oms import shipping
from tsunagi.oms.readmodel import Order, each_order
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound import csvfile
from tsunagi.outbound.carrierchars import for_carrier
from tsunagi.outbound.layouts import SHIPPED, Layout, Layouts

# Fields whose text goes on the label and must be in JIS X 0208.
TEXT_FIELDS = {"name": "お届け先名", "address1": "お届け先住所", "address2": "お届け先住所", "address3": "お届け先住所",
               "address4": "お届け先住所", "item1": "品名", "item2": "品名"}


class Shipper(Protocol):
    name: str
    postal_code: str
    address: str
    phone: str


class Carrier(Protocol):
    """What a label export needs of a carrier; the configuration's [[carrier]] table is one."""
    name: str                         # outbox/<name>/, and the carrier named in orders' shipping plans
    layout: str                       # outbound/layouts/label/<layout>.toml
    shipper: Shipper
    account: Mapping[str, object]     # values for account.* columns (請求先顧客コード, …)
    merge: bool                       # 同梱: one parcel for orders to the same recipient


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    shipments: int = 0
    orders: int = 0
    held: list[str] = field(default_factory=list)     # "order_no: reason" for orders held instead


def split_bytes(text: str, limits: list[int]) -> list[str]:
    """An address cut into lines of at most these many CP932 bytes; the last line takes the rest."""
    if len(text.encode("cp932", errors="replace")) <= limits[0]:
        return [text] + [""] * 3
    out, rest = [], text
    for n, limit in enumerate(limits):
        if n == len(limits) - 1:
            out.append(rest)
            break
        line = ""
        for ch in rest:
            if len((line + ch).encode("cp932", errors="replace")) > limit:
                break
            line += ch
        if len(line) < len(rest) and " " in line.strip():   # break at a space rather than inside a word
            line = line[:line.rstrip().rindex(" ")]
        out.append(line.rstrip())
        rest = rest[len(line):].lstrip()
    return out + [""] * (4 - len(out))


def _items(tx: Tx, shipment: dict) -> list[str]:
    """Product names in the parcel, each once: a split shipment names only what its location holds."""
    skus = shipment["skus"].split(",") if shipment.get("skus") else []   # the rest of a part-warehouse order
    names: list[str] = []
    for order_id in shipment["orders"]:
        names += [n for n in shipping.item_names(tx, order_id, shipment["location"], skus, shipment.get("recipient", 0))
                  if n not in names]
    return names


def label_row(tx: Tx, shipment: dict, order: Order, layout: Layout, target: Carrier,
              ship_date: date) -> dict[str, str]:
    """The canonical label fields of one shipment, whose (first) order is given; the layout picks and places them."""
    plan, st = order.shipping, order.recipient_of(shipment.get("recipient", 0))
    # cash on delivery is collected once: on the order's only parcel, or the first of a split
    first_parcel = "-" not in shipment["key"] or shipment["key"].endswith("-1")
    cod = plan.payment == "cod" and first_parcel
    service = layout.tables.get("service", {}).get(plan.delivery, {})
    amount = shipping.orders_total(tx, shipment["orders"]) if cod else 0
    address = split_bytes(f"{st.prefecture}{st.address}",
                          list(layout.tables.get("address", {}).get("split", [64, 32])))
    names = _items(tx, shipment)
    item1 = names[0] + (" 他" if len(names) > 2 else "") if names else "雑貨"
    shipper = split_bytes(f"{target.shipper.address}", list(layout.tables.get("address", {}).get("split", [64, 32])))
    row = {
        "key": shipment["key"], "order_no": order.order_no,
        "slip": service.get(plan.payment, service.get("prepaid", "")),
        "payment_code": layout.tables.get("payment", {}).get(plan.payment, ""),
        "cool": layout.tables.get("cool", {}).get(plan.cool, ""),
        "ship_date": ship_date.strftime(layout.date_format),
        "delivery_date": order.requested_date.strftime(layout.date_format) if order.requested_date else "",
        "time": layout.tables.get("time", {}).get(plan.time, ""),
        "phone": st.phone or "", "postal": st.postal_code or "", "name": st.name or "",
        "address1": address[0], "address2": address[1], "address3": address[2], "address4": address[3],
        "honorific": "様", "email": order.buyer.email or "",
        "shipper_name": target.shipper.name, "shipper_postal": target.shipper.postal_code,
        "shipper_phone": target.shipper.phone, "shipper_address1": shipper[0], "shipper_address2": shipper[1],
        "item1": item1, "item2": names[1] if len(names) > 1 else "",
        "cod_amount": str(amount) if amount else "", "cod_tax": str(amount * 10 // 110) if amount else "",
    }
    row.update({f"account.{k}": str(v) for k, v in target.account.items()})
    return row


def _check_text(row: dict[str, str], layout: Layout) -> str:
    """Map every label text to what the carrier takes. A character that cannot be, a name or address
    longer than the carrier's fields, or a value the file cannot carry (a delimiter where the format
    takes no quoting, a line break, text starting like a formula) is named: a label never loses part
    of an address silently, and no value shifts a column."""
    problems = []
    for name, label in TEXT_FIELDS.items():
        row[name], bad = for_carrier(row[name])
        if bad:
            problems.append(f"{label}の「{''.join(dict.fromkeys(bad))}」")
    for col in layout.columns:
        if col.field in TEXT_FIELDS and not col.field.startswith("item") and col.max_bytes:
            size = len(row[col.field].encode("cp932", errors="replace"))
            if size > col.max_bytes:
                problems.append(f"{TEXT_FIELDS[col.field]}が長すぎます ({col.header} {size}バイト、上限 {col.max_bytes})")
    problems += csvfile.problems(layout, row, TEXT_FIELDS)
    return "、".join(problems)


def export(store: Store, outbox: Path, target: Carrier, layouts: Layouts = SHIPPED, shop: str | None = None,
           ship_date: date | None = None, order_ids: frozenset[int] | None = None) -> ExportResult:
    """One label file (or several, where the carrier takes few rows a file) for every ready order of
    this carrier that has no live shipment (of order_ids only, when given); written before the transaction
    commits, like the feeds."""
    layout = layouts.load("label", target.layout)
    ship_date = ship_date or clock.now().date()
    result = ExportResult()
    pending = []
    with store.transaction() as tx:
        shipments = shipping.open_shipments(tx, target.name, shipping.to_export(tx, target.name, shop, order_ids),
                                          target.merge)
        rows, kept = [], []
        firsts = each_order(tx, [s["orders"][0] for s in shipments])    # read in chunks: thousands a file
        for shipment, first in zip(shipments, firsts):
            row = label_row(tx, shipment, first, layout, target, ship_date)
            problem = _check_text(row, layout)
            if problem:
                fix = (f"tsunagi order-ship-to SHOP ORDER_NO set {shipment['recipient']} で" if shipment["recipient"] > 1
                       else "tsunagi order-set で")
                shipping.withdraw_parcel(tx, shipment["id"], shipment["orders"],
                                         f"送り状に書けません: {problem} ({fix}直してから tsunagi ship ready)")
                result.held.append(f"{row['order_no']}: {problem}")
                continue
            rows.append(row)
            kept.append(shipment)
        per_file = layout.max_rows or len(rows) or 1
        stamp = clock.file_stamp()
        for n in range(0, len(rows), per_file):
            suffix = f"-{n // per_file + 1}" if len(rows) > per_file else ""
            name = f"{target.name}-labels-{stamp}{suffix}.{layout.extension}"
            pending.append(csvfile.write_pending(tx, outbox / target.name, name,
                                                 csvfile.render(layout, rows[n:n + per_file], TEXT_FIELDS)))
            shipping.set_file(tx, [s["id"] for s in kept[n:n + per_file]], name)
        result.shipments = len(kept)
        result.orders = len({o for s in kept for o in s["orders"]})
    csvfile.publish(pending)
    result.files = pending
    return result

