"""Shipping wired to config: channel names mapped to a plan, label targets, confirmation targets."""
from __future__ import annotations

import json

from tsunagi.app.config import Config, Shop
from tsunagi.ingest.spool import Spool
from tsunagi.oms import orders, shipping, status
from tsunagi.oms.store import Store
from tsunagi.outbound.confirmations import ConfirmTarget, ConfirmWriter
from tsunagi.outbound.labels import CarrierTarget, Shipper
from tsunagi.outbound.layouts import load_layout
from tsunagi.outbound.wms import WmsTarget

SETTING = "([[shop]] shipping の {table} に追加)"
RETRIED_HOLDS = ("unmapped", "label_chars")   # holds a changed mapping or a corrected address can lift


def plan_for(cfg: Config, shop: Shop, data: dict) -> tuple[dict | None, str]:
    """The order's shipping plan from the shop's mapping tables, or the name that has no mapping."""
    maps = shop.shipping
    delivery_name, payment_name = data.get("delivery_method", ""), data.get("payment_method", "")
    time_name = data.get("requested_time", "")
    if delivery_name not in maps.delivery:
        return None, f"配送方法「{delivery_name}」の紐づけがありません {SETTING.format(table='delivery')}"
    if payment_name not in maps.payment:
        return None, f"支払方法「{payment_name}」の紐づけがありません {SETTING.format(table='payment')}"
    if time_name and time_name not in maps.time:
        return None, f"配達時間帯「{time_name}」の紐づけがありません {SETTING.format(table='time')}"
    service, payment, slot = maps.delivery[delivery_name], maps.payment[payment_name], maps.time.get(time_name, "")
    carrier = cfg.carrier_for_service(service)
    layout = load_layout("label", carrier.layout, dirs=cfg.csv_layout_dirs)
    if payment not in layout.tables["service"][service]:
        return None, f"{service} では代金引換を扱えません (支払方法「{payment_name}」)"
    if slot and slot not in layout.tables.get("time", {}):
        return None, f"{service} では配達時間帯「{slot}」を指定できません (「{time_name}」)"
    return {"carrier": carrier.name, "delivery": service, "payment": payment, "time": slot}, ""


def ready_orders(cfg: Config, store: Store, shop_id: str | None = None, only_auto: bool = True) -> dict[str, int]:
    """確認待ち orders of shops with shipping settings become 印刷待ち, or 保留 naming the missing mapping."""
    shops = {s.id: s for s in cfg.shops if s.shipping and (s.shipping.auto_ready or not only_auto)
             and (shop_id is None or s.id == shop_id)}
    counts = {status.READY: 0, status.HOLD: 0}
    if not shops:
        return counts
    mail_only = {s.id for s in cfg.shops if not s.order_csv}     # no order CSV will confirm: the mail does
    with store.transaction() as tx:
        for order_id, shop, code, hold_kind in tx.all(
                "SELECT id, shop, status, hold_kind FROM orders WHERE status IN (?, ?, ?) ORDER BY ordered_at, id",
                status.CONFIRM, status.NEW, status.HOLD):
            if shop not in shops:
                continue
            if code == status.HOLD:
                if hold_kind not in RETRIED_HOLDS or orders.place(tx, order_id) == status.HOLD:
                    continue
                code = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
            if code == status.NEW and shop in mail_only:
                orders.set_status(tx, order_id, status.CONFIRM, note="受注メールで確認 (受注CSVなし)")
                code = status.CONFIRM
            if code != status.CONFIRM:
                continue
            data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
            plan, problem = plan_for(cfg, shops[shop], data)
            outcome = shipping.make_ready(tx, order_id, plan, problem)
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def label_target(cfg: Config, name: str) -> CarrierTarget:
    c = cfg.carrier(name)
    return CarrierTarget(c.name, c.layout, Shipper(**dict(c.shipper)), dict(c.account), c.merge, cfg.layouts)


def confirm_writer(cfg: Config, spool: Spool, store: Store) -> ConfirmWriter:
    pushed = {ep.push.source for ep in cfg.sftp if ep.push}
    targets = [ConfirmTarget(s.id, s.shipping.confirm_layout, s.id in pushed, cfg.layouts) for s in cfg.shops if s.shipping]
    return ConfirmWriter(store, spool.dir("outbox"), targets)


def confirmations_sent(store: Store, names: list[str]) -> int:
    """Files a push delivered: orders confirmed in them are closed (請求済)."""
    with store.transaction() as tx:
        return sum(shipping.confirmation_pushed(tx, name) for name in names)


def wms_target(cfg: Config, name: str) -> WmsTarget:
    w = cfg.wms(name)
    return WmsTarget(w.name, w.statuses, w.tag, w.packaging_tags, w.layout, w.cancel_layout, cfg.layouts)
