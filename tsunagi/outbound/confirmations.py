"""Shipment confirmations: each shipped order (or changed tracking) told to its channel in its format."""
from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from tsunagi.common import clock
from tsunagi.oms import outbound_tables, outbox, queries, shipping, status
from tsunagi.oms.readmodel import Order, ShippingPlan, each_order
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound import carriercodes, csvfile, relatedconfirm
from tsunagi.outbound.layouts import SHIPPED, Layouts

log = logging.getLogger("tsunagi.confirm")
CONSUMER = "ship-confirm"




class ConfirmWriter:
    def __init__(self, store: Store, outbox_dir: Path, confirm_layouts: dict[str, str], layouts: Layouts = SHIPPED):
        self.store = store
        self.outbox_dir = outbox_dir
        self.confirm_layouts = confirm_layouts   # shop -> its confirmation layout; "" = the channel takes no file
        self.layouts = layouts
        for name in confirm_layouts.values():
            if name:
                layouts.load("confirm", name)

    def flush(self) -> list[Path]:
        """Consume shipment events: one file per shop with all its orders to confirm. The file reaches ready/
        once the transaction that recorded it commits; its orders close (請求済) when it is sent or marked sent
        (oms/deliveries.py), those of a shop whose channel takes no file at once."""
        written: list[Path] = []
        with self.store.transaction() as tx:
            events = outbox.pending(tx, CONSUMER, (outbox.ORDER, outbox.SHIPMENT))
            if not events:
                return []
            by_shop: dict[str, list[int]] = {}
            for _, key, payload in events:
                if "reconfirm" not in payload and payload.get("to") != status.SHIPPED:
                    continue       # an order event that is not a shipment
                order_id = int(key)
                shop = queries.order_ref(tx, order_id)[0]
                if order_id not in by_shop.setdefault(shop, []):
                    by_shop[shop].append(order_id)
            for shop, ids in sorted(by_shop.items()):  # (an order shipped and changed in one pass: once)
                layout = self.confirm_layouts.get(shop, "")
                path, unwritten = self._file(tx, shop, layout, ids) if layout else (None, set())
                if path:
                    written.append(path)
                ids = [i for i in ids if i not in unwritten]    # stay 出荷確定済 (not closed) for a person
                ids = relatedconfirm.to_close(tx, ids) if layout else ids     # a split's parts: once all confirmed
                if ids and path is None:
                    shipping.close(tx, ids, f"出荷通知 {path.name}" if path else "出荷確定 (通知ファイルなし)")
            outbox.advance(tx, CONSUMER, events[-1][0])
        csvfile.publish(written)
        return written

    def _file(self, tx: Tx, shop: str, layout_name: str, ids: list[int]) -> tuple[Path | None, set[int]]:
        """The shop's confirmation file, and the orders left out because the file cannot carry a value
        of theirs (a delimiter where the format takes no quoting, a line break): never a shifted column."""
        layout = self.layouts.load("confirm", layout_name)
        rows, unwritten = [], set()
        for order in each_order(tx, ids):
            for order_id, row in relatedconfirm.rows(tx, order, lambda o: confirm_row(tx, o, layout)):
                problem = "、".join(csvfile.problems(layout, row))
                if problem:
                    log.error("shop %s: order %s left out of the shipment confirmation: %s", shop, order.order_no,
                              problem)
                    outbound_tables.add_alert(tx, "confirm", f"注文 {shop} {order.order_no} を出荷通知に書けません "
                                              f"(出荷確定済のまま)", problem)
                    unwritten.add(order.id)
                elif all(order_id != done for done, _ in rows):    # a split's parts shipped together: once
                    rows.append((order_id, row))
        if not rows:
            return None, unwritten
        name = f"{shop}-shipconfirm-{clock.file_stamp()}.{layout.extension}"
        path = csvfile.write_pending(tx, self.outbox_dir / shop, name, csvfile.render(layout, [r for _, r in rows]))
        for order_id, row in rows:
            shipping.record_confirmation(tx, order_id, shop, row["tracking_all"], name)
        log.info("shop %s: shipment confirmation %s (%d orders)", shop, name, len(rows))
        return path, unwritten


def confirm_row(tx: Tx, order: Order, layout) -> dict[str, str] | None:
    """The confirmation fields of one shipped order: its tracking numbers, ship date and carrier codes."""
    numbers, ship_date = shipping.tracking_of(tx, order.id)
    plan = order.shipping or ShippingPlan()
    carrier = carriercodes.for_service(plan.delivery, layout.tables)
    when = date.fromisoformat(ship_date) if ship_date else clock.now().date()
    return {"order_no": order.order_no, "tracking": numbers[0] if numbers else "", "tracking_all": ",".join(numbers),
            "tracking2": numbers[1] if len(numbers) > 1 else "", "ship_date": when.strftime(layout.date_format),
            "carrier_code": carrier.get("code", carriercodes.OTHER), "carrier_name": carrier.get("name", plan.carrier),
            "ship_method": carrier.get("method", plan.delivery),
            "cod_method": layout.tables.get("cod", {}).get(plan.payment, "")}
