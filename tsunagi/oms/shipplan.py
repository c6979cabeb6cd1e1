"""Shipping policy: a shop's channel names mapped to a plan (carrier, service, payment, slot), and 確認待ち → 印刷待ち."""
from __future__ import annotations

from dataclasses import dataclass, field

from tsunagi.common.clock import today
from tsunagi.oms import orders, payments, paykinds, review, shipnames, shipping, status
from tsunagi.oms.store import Tx

SETTING = "([[shop]] shipping の {table} に追加)"
RETRIED_HOLDS = ("unmapped", "label_chars")   # holds a changed mapping or a corrected address can lift


@dataclass(frozen=True)
class Service:
    """A carrier service as the carrier's label layout offers it."""
    carrier: str
    payments: frozenset[str]          # prepaid, cod (a label's; postpay and pay_first ship prepaid)
    slots: frozenset[str]             # the time slots the carrier takes


@dataclass(frozen=True)
class ShopRules:
    """One shop's mapping tables: channel name → service, payment kind, time slot."""
    delivery: dict[str, str] = field(default_factory=dict)
    payment: dict[str, str] = field(default_factory=dict)   # channel name -> prepaid, cod, postpay, pay_first
    time: dict[str, str] = field(default_factory=dict)
    auto_ready: bool = True           # 確認待ち → 印刷待ち as soon as the mapping allows
    confirmed_by_mail: bool = False   # no order CSV will confirm this shop's orders: the mail does
    review: review.Review = review.Review()   # holds for a person to look at, and far delivery dates


@dataclass(frozen=True)
class Rules:
    """The whole shipping policy, a plain value built from the configuration."""
    shops: dict[str, ShopRules]
    services: dict[str, Service]


def plan_for(rules: Rules, shop: ShopRules, data: dict) -> tuple[dict | None, str]:
    """The order's shipping plan, or the name that has no mapping (never a guess)."""
    delivery_name, payment_name = data.get("delivery_method", ""), data.get("payment_method", "")
    time_name = data.get("requested_time", "")
    if delivery_name not in shop.delivery:
        return None, f"配送方法「{delivery_name}」の紐づけがありません {SETTING.format(table='delivery')}"
    if payment_name not in shop.payment:
        return None, f"支払方法「{payment_name}」の紐づけがありません {SETTING.format(table='payment')}"
    slot = shop.time[time_name] if time_name in shop.time else shipnames.time_slot(time_name) if time_name else ""
    if slot is None:
        return None, f"配達時間帯「{time_name}」の紐づけがありません {SETTING.format(table='time')}"
    service_name, kind = shop.delivery[delivery_name], shop.payment[payment_name]
    service, payment = rules.services[service_name], paykinds.label_payment(kind)
    if payment not in service.payments:
        return None, f"{service_name} では代金引換を扱えません (支払方法「{payment_name}」)"
    if slot and slot not in service.slots:
        return None, f"{service_name} では配達時間帯「{time_name}」({slot}) を指定できません"
    plan = {"carrier": service.carrier, "delivery": service_name, "payment": payment, "time": slot}
    if kind == paykinds.PAY_FIRST and not data.get("paid"):
        plan["pay_first"] = True      # waits in 入金待ち until the payment is confirmed (oms/payments.py)
    return plan, ""


def ready_orders(tx: Tx, rules: Rules, shop_id: str | None = None, only_auto: bool = True,
                 order_ids: frozenset[int] | None = None) -> dict[str, int]:
    """確認待ち orders of shops with shipping rules become 印刷待ち, or 保留 naming the missing mapping
    (only those of order_ids when given: a selection in the console)."""
    shops = {k: s for k, s in rules.shops.items() if (s.auto_ready or not only_auto) and shop_id in (None, k)}
    counts = {status.READY: 0, status.HOLD: 0}
    if not shops:
        return counts
    counts[status.READY] += dates_come(tx, shops)
    waiting: list[int] = []
    for order_id, shop, code, hold_kind in tx.all(
            "SELECT id, shop, status, hold_kind FROM orders WHERE status IN (?, ?, ?) ORDER BY ordered_at, id",
            status.CONFIRM, status.NEW, status.HOLD):
        if shop not in shops or (order_ids is not None and order_id not in order_ids):
            continue
        if code == status.HOLD:
            if hold_kind not in RETRIED_HOLDS or _retry(tx, rules, shops[shop], order_id) == status.HOLD:
                continue
            code = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
        if code == status.NEW and shops[shop].confirmed_by_mail:
            orders.set_status(tx, order_id, status.CONFIRM, note="受注メールで確認 (受注CSVなし)")
            code = status.CONFIRM
        if code != status.CONFIRM:
            continue
        plan, problem = plan_for(rules, shops[shop], shipping.order_data(tx, order_id))
        outcome = _reviewed_ready(tx, shops[shop].review, order_id, plan, problem)
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == status.PAYMENT:
            waiting.append(order_id)
    # a payment that came while an order was held (or before it was imported) is matched as it starts to wait,
    # once all that start now wait (a payment that fits two of them is left to a person, as a file's row is)
    for order_id in waiting:
        outcome = payments.match_arrived(tx, order_id)
        if outcome != status.PAYMENT:
            counts[status.PAYMENT] -= 1
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _reviewed_ready(tx: Tx, rules: review.Review, order_id: int, plan: dict | None, problem: str) -> str:
    """make_ready, unless a review rule holds the order first (before 入金待ち: a person looks, then it waits
    for its money); a far delivery date makes it wait in 印刷日待ち."""
    if problem:
        return shipping.make_ready(tx, order_id, plan, problem)
    data = shipping.order_data(tx, order_id)
    found = review.findings(rules, data, review.line_options(tx, order_id), review.released(data), plan["payment"])
    if found:
        review.record_hold(tx, order_id, found)
        orders.set_status(tx, order_id, status.HOLD, hold_kind="review", note=review.hold_note(found))
        return status.HOLD
    return shipping.make_ready(tx, order_id, plan, problem, review.waits_for_date(rules, data, today()))


def dates_come(tx: Tx, shops: dict[str, ShopRules]) -> int:
    """印刷日待ち orders whose day has come (N days before the requested date) go on to 印刷待ち."""
    moved = 0
    for order_id, shop, day in tx.all(
            "SELECT id, shop, json_extract(data, '$.shipping.print_from') FROM orders WHERE status = ?",
            status.WAITING_DATE):
        if shop in shops and (day or "") <= today().isoformat():
            orders.set_status(tx, order_id, status.READY, note=f"お届け指定日の{shops[shop].review.date_beyond_days}日前")
            moved += 1
    return moved


def _retry(tx: Tx, rules: Rules, shop: ShopRules, order_id: int) -> str:
    """A held order tried again with the mapping as it is now; nothing is written while its cause remains."""
    plan, problem = plan_for(rules, shop, shipping.order_data(tx, order_id))
    return shipping.retry_hold(tx, order_id, plan, problem)
