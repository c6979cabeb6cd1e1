"""Shipment confirmations: each shipped order (or changed tracking) told to its channel in its format."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tsunagi.common import clock
from tsunagi.oms import outbox, queries, shipping, status
from tsunagi.oms.readmodel import Order, ShippingPlan, each_order
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound import csvfile
from tsunagi.outbound.layouts import SHIPPED, Layouts

log = logging.getLogger("tsunagi.confirm")
CONSUMER = "ship-confirm"


@dataclass
class ConfirmTarget:
    shop: str
    layout: str            # "" = the channel takes no file: the order is closed when shipped
    pushed: bool = False   # a push endpoint takes outbox/<shop>/: close when it was sent, not when written
    layouts: Layouts = SHIPPED   # where its layout is found (config's csv.layout_dir, then the shipped ones)


class ConfirmWriter:
    def __init__(self, store: Store, outbox_dir: Path, targets: list[ConfirmTarget]):
        self.store = store
        self.outbox_dir = outbox_dir
        self.targets = {t.shop: t for t in targets}
        for t in targets:
            if t.layout:
                t.layouts.load("confirm", t.layout)

    def flush(self) -> list[Path]:
        """Consume shipment events: one file per shop with all its orders to confirm, then close them
        (unless a push will). The file reaches ready/ once the transaction that recorded it commits."""
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
                target = self.targets.get(shop) or ConfirmTarget(shop, "")
                path = self._file(tx, target, ids) if target.layout else None
                if path:
                    written.append(path)
                if not target.pushed or path is None:
                    shipping.close(tx, ids, f"出荷通知 {path.name}" if path else "出荷確定 (通知ファイルなし)")
            outbox.advance(tx, CONSUMER, events[-1][0])
        csvfile.publish(written)
        return written

    def _file(self, tx: Tx, target: ConfirmTarget, ids: list[int]) -> Path | None:
        layout = target.layouts.load("confirm", target.layout)
        rows = [row for order in each_order(tx, ids) if (row := confirm_row(tx, order, layout))]
        if not rows:
            return None
        stamp = clock.now().strftime("%Y%m%dT%H%M%S_%f")
        name = f"{target.shop}-shipconfirm-{stamp}.{layout.extension}"
        path = csvfile.write_pending(tx, self.outbox_dir / target.shop, name, csvfile.render(layout, rows))
        for order_id, row in zip(ids, rows):
            shipping.record_confirmation(tx, order_id, target.shop, row["tracking_all"], name)
        log.info("shop %s: shipment confirmation %s (%d orders)", target.shop, name, len(rows))
        return path


def confirm_row(tx: Tx, order: Order, layout) -> dict[str, str] | None:
    """The confirmation fields of one shipped order: its tracking numbers, ship date and carrier codes."""
    numbers, ship_date = shipping.tracking_of(tx, order.id)
    plan = order.shipping or ShippingPlan()
    carrier = layout.tables.get("carrier", {}).get(plan.delivery, {})
    when = date.fromisoformat(ship_date) if ship_date else clock.now().date()
    return {"order_no": order.order_no, "tracking": numbers[0] if numbers else "", "tracking_all": ",".join(numbers),
            "tracking2": numbers[1] if len(numbers) > 1 else "", "ship_date": when.strftime(layout.date_format),
            "carrier_code": carrier.get("code", "OTHER"), "carrier_name": carrier.get("name", plan.carrier),
            "ship_method": carrier.get("method", plan.delivery),
            "cod_method": layout.tables.get("cod", {}).get(plan.payment, "")}
