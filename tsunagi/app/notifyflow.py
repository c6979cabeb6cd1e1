"""Buyer mails and operator alerts wired to config: stages recorded, template context, the mailer."""
from __future__ import annotations

from datetime import date, datetime

from tsunagi.app.config import Config, Shop
from tsunagi.common.clock import JST
from tsunagi.oms import mailq, queries, shipping
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound.alerts import Alerts
from tsunagi.outbound.layouts import load_layout
from tsunagi.outbound.mailer import Mailer, ShopSender
from tsunagi.outbound.mailtemplates import Templates


def sync_stages(cfg: Config, store: Store) -> None:
    """Record which stages each shop has enabled (and since when: no backfill before that moment)."""
    with store.transaction() as tx:
        for shop in cfg.shops:
            mailq.set_stages(tx, shop.id, shop.mail.stages if shop.mail else {})


def shop_context(shop: Shop) -> dict:
    return {"id": shop.id, "name": shop.name, "sender": shop.mail.sender if shop.mail else "",
            "signature": shop.mail.signature if shop.mail else ""}


def carrier_info(cfg: Config, carrier: str) -> dict:
    try:
        return load_layout("label", cfg.carrier(carrier).layout, dirs=cfg.csv_layout_dirs).tables.get("carrier_info", {})
    except Exception:
        return {}


def context(cfg: Config, tx: Tx, order_id: int, stage: str) -> dict:
    """What a template sees: order, lines, buyer, ship_to, shop, and for shipment the parcel(s)."""
    view = queries.order_view(tx, order_id)
    shop = cfg.shop(view["shop"])
    numbers, ship_date = shipping.tracking_of(tx, order_id)
    info = carrier_info(cfg, view["shipping"].get("carrier", "")) if view["shipping"] else {}
    url = info.get("tracking_url", "")
    return {"order": view, "lines": view["lines"], "buyer": view["buyer"], "ship_to": view["ship_to"] or view["buyer"],
            "shop": shop_context(shop), "stage": stage,
            "shipment": {"carrier_name": info.get("name", view["delivery_method"]), "tracking": numbers,
                         "tracking_url": url.format(number=numbers[0]) if url and numbers else "",
                         "ship_date": ship_date}}


def sample_context(cfg: Config, shop: Shop, stage: str) -> dict:
    """A full sample order, for `tsunagi check` to render every enabled template against."""
    person = {"name": "山田 花子", "postal_code": "530-0001", "prefecture": "大阪府", "address": "大阪市北区梅田1-1-1",
              "phone": "06-1234-5678", "email": "hanako@example.jp"}
    line = {"sku": "SAMPLE-1", "channel_sku": "SAMPLE-1", "name": "サンプル商品", "options": [], "qty": 2,
            "unit_price": 1650}
    order = {"shop": shop.id, "order_no": "SAMPLE-0001", "status": "shipped", "status_label": "出荷確定済",
             "ordered_at": datetime(2026, 6, 12, 8, 55, tzinfo=JST).isoformat(), "buyer": person, "ship_to": person,
             "payment_method": "クレジットカード", "delivery_method": "宅配便", "requested_date": date(2026, 6, 15).isoformat(),
             "requested_time": "午前中", "shipping_fee": 500, "cod_fee": 0, "discount": 0, "total": 3800, "source": "mail",
             "hold_reason": "", "hold_kind": "", "mail_at": None, "csv_at": None, "shipping": {}, "channel_status": "",
             "lines": [line], "reserved": [], "shipments": [], "warehouse": []}
    return {"order": order, "lines": [line], "buyer": person, "ship_to": person, "shop": shop_context(shop),
            "stage": stage, "shipment": {"carrier_name": "ヤマト運輸", "tracking": ["123456789013"],
                                         "tracking_url": "https://example.invalid/track?no=123456789013",
                                         "ship_date": "2026-06-13"}}


def templates_for(shop: Shop) -> Templates:
    return Templates(shop.mail.template_dir if shop.mail else None)


def mailer(cfg: Config, store: Store) -> Mailer | None:
    if cfg.relay is None:
        return None
    senders = {s.id: ShopSender(s.id, s.mail.sender, s.mail.sender_name, templates_for(s), s.mail.reply_to, s.mail.bcc,
                                s.mail.charset, tuple(s.mail.stages.get("post_purchase", {}).get("hours", (0, 24))))
               for s in cfg.shops if s.mail}
    return Mailer(store, cfg.relay, senders, lambda tx, order_id, stage: context(cfg, tx, order_id, stage))


def alerts(cfg: Config, store: Store, outbox_dir) -> Alerts | None:
    if cfg.alerts is None or cfg.relay is None:
        return None
    a = cfg.alerts
    pushed = {ep.push.source for ep in cfg.sftp if ep.push}
    return Alerts(store, cfg.relay, a, outbox_dir, pushed)
