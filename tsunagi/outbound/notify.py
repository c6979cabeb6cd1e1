"""What a buyer-mail template sees: the order from the read model, the shop, and the parcel's tracking."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from tsunagi.common.clock import JST
from tsunagi.oms import shipping
from tsunagi.oms.readmodel import Order, load_order
from tsunagi.oms.store import Tx


@dataclass(frozen=True)
class ContextSource:
    """The shops as templates show them (id, name, sender, signature) and each carrier's name and tracking URL."""
    shops: dict[str, dict]
    carriers: dict[str, dict] = field(default_factory=dict)     # carrier name -> label layout's carrier_info

    def context(self, tx: Tx, order_id: int, stage: str) -> dict:
        """The variables of one order's mail: order, lines, buyer, ship_to, shop, stage and the parcel(s)."""
        order = load_order(tx, order_id)
        view = order.as_dict()        # templates see plain dicts: the same variables as the JSON
        numbers, ship_date = shipping.tracking_of(tx, order_id)
        info = self.carriers.get(order.shipping.carrier, {}) if order.shipping else {}
        url = info.get("tracking_url", "")
        return {"order": view, "lines": view["lines"], "buyer": view["buyer"],
                "ship_to": view["ship_to"] or view["buyer"], "shop": self.shops[order.shop], "stage": stage,
                "shipment": {"carrier_name": info.get("name", order.delivery_method), "tracking": numbers,
                             "tracking_url": url.format(number=numbers[0]) if url and numbers else "",
                             "ship_date": ship_date},
                "parcels": parcels(order, view, numbers, url)}

    def sample(self, shop_id: str, stage: str) -> dict:
        """A full sample order, for `tsunagi check` to render every enabled template against."""
        return sample_context(self.shops[shop_id], stage)


def parcels(order: Order, view: dict, numbers: list[str], url: str) -> list[dict]:
    """What goes to whom: a parcel per recipient of an order with several (複数送付先), each with its recipient,
    lines and tracking numbers; one parcel with everything otherwise."""
    def parcel(n: int, who: dict, lines: list[dict], tracking: list[str]) -> dict:
        return {"number": n, "recipient": who, "lines": lines, "tracking": tracking,
                "tracking_url": url.format(number=tracking[0]) if url and tracking else ""}
    if not order.more_ship_to:
        return [parcel(1, view["ship_to"] if view["ship_to"].get("name") else view["buyer"], view["lines"], numbers)]
    out = []
    for n, who in enumerate(order.recipients, 1):
        lines = [line for line in view["lines"] if line["recipient"] == n]
        tracking = [t for s in order.shipments if s.recipient == n and s.state in shipping.LIVE
                    for t in s.tracking.split(",") if t]
        if lines:
            out.append(parcel(n, dict(vars(who)), lines, list(dict.fromkeys(tracking))))
    return out


def sample_context(shop: dict, stage: str) -> dict:
    person = {"name": "山田 花子", "postal_code": "530-0001", "prefecture": "大阪府", "address": "大阪市北区梅田1-1-1",
              "phone": "06-1234-5678", "email": "hanako@example.jp"}
    line = {"sku": "SAMPLE-1", "channel_sku": "SAMPLE-1", "name": "サンプル商品", "options": [], "qty": 2,
            "unit_price": 1650}
    order = {"shop": shop["id"], "order_no": "SAMPLE-0001", "status": "shipped", "status_label": "出荷確定済",
             "ordered_at": datetime(2026, 6, 12, 8, 55, tzinfo=JST).isoformat(), "buyer": person, "ship_to": person,
             "payment_method": "クレジットカード", "delivery_method": "宅配便", "requested_date": date(2026, 6, 15).isoformat(),
             "requested_time": "午前中", "shipping_fee": 500, "cod_fee": 0, "discount": 0, "total": 3800, "source": "mail",
             "hold_reason": "", "hold_kind": "", "mail_at": None, "csv_at": None, "shipping": {}, "channel_status": "",
             "lines": [line], "reserved": [], "shipments": [], "warehouse": []}
    return {"order": order, "lines": [line], "buyer": person, "ship_to": person, "shop": shop,
            "stage": stage, "shipment": {"carrier_name": "ヤマト運輸", "tracking": ["123456789013"],
                                         "tracking_url": "https://example.invalid/track?no=123456789013",
                                         "ship_date": "2026-06-13"},
            "parcels": [{"number": 1, "recipient": person, "lines": [line], "tracking": ["123456789013"],
                         "tracking_url": "https://example.invalid/track?no=123456789013"}]}
