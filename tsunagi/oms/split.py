"""Splitting an order (分割): some of its lines move, with their reservations, to ORDER_NO-bk-N, which ships alone."""
from __future__ import annotations

import json

from tsunagi.oms import allocate, paykinds, recipients, relations, status, versions, voids
from tsunagi.oms.adopt import current_content
from tsunagi.oms.editlines import Changed, check_open, lines_sum, retotal, write_lines
from tsunagi.oms.orders import OrderError, by_whom, note_history, place, release, set_status
from tsunagi.oms.store import Tx


def check_splittable(tx: Tx, order_id: int, doing: str) -> str:
    """The order's status if a person may split or merge it; else a one-line refusal naming why."""
    current = check_open(tx, order_id, doing)
    if current == status.PAYMENT:     # the buyer pays the channel's total once, under this order's number
        raise OrderError(f"the order waits for payment (入金待ち): it cannot be {doing} until the payment is confirmed "
                         f"(tsunagi payment confirm)")
    wms = allocate.warehouse_has(tx, order_id)
    if wms:
        raise OrderError(f"倉庫 {wms} に出荷を指示済みのため{doing}できません (tsunagi order-cancel で取り消すか、"
                         f"倉庫の報告を待ってください)")
    return current


def check_paid_first(tx: Tx, order_id: int, pay_kinds: dict[str, str]) -> None:
    """Refuses, in one line, a split of an order paid first whose payment is not confirmed yet, whatever its
    status (新規受付, 確認待ち, held): the buyer pays the channel's total once, under the original number, so a
    part would wait in 入金待ち for money that never names it."""
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    method = data.get("payment_method") or ""
    if pay_kinds.get(method) == paykinds.PAY_FIRST and not data.get("paid"):
        raise OrderError(f"the order is paid first (支払方法「{method}」) and its payment is not confirmed yet: split it "
                         f"once paid (tsunagi payment confirm, or its bank file): the buyer pays the whole total once")


def has_set(tx: Tx, order_id: int) -> bool:
    return tx.one("SELECT 1 FROM order_lines l JOIN set_components c ON c.set_sku = l.sku WHERE l.order_id = ? "
                  "LIMIT 1", order_id) is not None


def split(tx: Tx, order_id: int, line_nos: list[int], by: str = "", sets_refused: bool = False,
          pay_kinds: dict[str, str] | None = None) -> tuple[str, Changed]:
    """Lines line_nos move to a new order ORDER_NO-bk-N: its total is their sum; the shipping fee, COD fee and
    discounts stay with the original (the channel charged them once, on the original order number).
    pay_kinds: the shop's payment names → kinds; an order paid first (銀行振込, …) is split only once paid."""
    current = check_splittable(tx, order_id, "split")
    check_paid_first(tx, order_id, pay_kinds or {})
    if relations.children(tx, order_id, relations.MERGE):
        raise OrderError("the order holds orders merged into it (同梱): it cannot be split")
    lines = tx.all("SELECT line_no, channel_sku, sku, name, options, qty, unit_price, recipient FROM order_lines "
                   "WHERE order_id = ? ORDER BY line_no", order_id)
    wanted = sorted(set(line_nos))
    for n in wanted:
        if not 1 <= n <= len(lines):
            raise OrderError(f"the order has no line {n} (its lines are 1–{len(lines)}: see tsunagi order SHOP ORDER_NO)")
    if len(wanted) == len(lines):
        raise OrderError("a split must not leave the original order empty: keep at least one line (分割すると元の注文が空になります)")
    if sets_refused and has_set(tx, order_id):
        raise OrderError("the order holds a set product: Amazon rejects a split order with a set "
                         "(セット商品を含む注文は Amazon では分割できません)")
    versions.record_replaced(tx, order_id, current_content(tx, order_id), by)   # the channel's copy holds no more
    moved = [line for line in lines if line[0] in wanted]
    kept = [line for line in lines if line[0] not in wanted]
    shop, order_no = tx.one("SELECT shop, order_no FROM orders WHERE id = ?", order_id)
    new_no = relations.next_number(tx, shop, order_no, relations.SPLIT)
    moved_sum = lines_sum([line[1:] for line in moved])
    new_id = relations.new_order(tx, order_id, new_no, moved_sum, fees=False)
    write_lines(tx, new_id, [line[1:] for line in moved])
    tx.run("DELETE FROM order_lines WHERE order_id = ?", order_id)
    write_lines(tx, order_id, [line[1:] for line in kept])
    total = retotal(tx, order_id, -moved_sum)
    voided = voids.void_labels(tx, order_id, "注文の分割")
    relations.record(tx, order_id, new_id, relations.SPLIT, by)
    shown = ", ".join(f"明細{n} {code}×{qty}" for n, code, _, _, _, qty, _, _ in moved)
    if current in status.RESERVING:
        relations.move_reservations(tx, order_id, new_id, relations.needs(tx, [(m[2], m[5]) for m in moved]))
        set_status(tx, new_id, current, note=f"{order_no} から分割{by_whom(by)}")
    elif current == status.HOLD and _held_for(tx, order_id) != "recipients":   # the part waits for the same look
        kind, reason = tx.one("SELECT hold_kind, hold_reason FROM orders WHERE id = ?", order_id)
        set_status(tx, new_id, status.HOLD, note=reason, hold_kind=kind)
        note_history(tx, new_id, f"{order_no} から分割{by_whom(by)}")
    else:
        place(tx, new_id)
        note_history(tx, new_id, f"{order_no} から分割{by_whom(by)}")
    note_history(tx, order_id, f"分割: {shown} を {new_no} へ (合計 {total:,}円){by_whom(by)}")
    if _held_for(tx, order_id) == "recipients" and len(recipients.used(tx, order_id)) < 2:
        current = release(tx, order_id, by)     # split by recipient, as its hold asked: it goes on
    return new_no, Changed(current, total, voided)


def _held_for(tx: Tx, order_id: int) -> str:
    """The order's hold kind ("" when it is not held)."""
    return tx.value("SELECT hold_kind FROM orders WHERE id = ? AND status = ?", order_id, status.HOLD, default="")
