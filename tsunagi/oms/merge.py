"""Merging orders (同梱): one buyer's orders ship as one; the others are cancelled by the merge, their lines and
reservations moved to the surviving order."""
from __future__ import annotations

import json

from tsunagi.common.clock import timestamp
from tsunagi.oms import recipients, relations, status, versions, voids
from tsunagi.oms.adopt import current_content
from tsunagi.oms.editlines import Changed
from tsunagi.oms.orders import OrderError, by_whom, note_history, set_status
from tsunagi.oms.split import check_splittable
from tsunagi.oms.store import Tx


def _recipient(tx: Tx, order_id: int) -> tuple[str, str, str, str]:
    """Whom the order ships to: name, postcode, prefecture and address, compared without spaces and dashes."""
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    who = data.get("ship_to") or data.get("buyer") or {}
    if not (who.get("name") and who.get("address")):
        who = data.get("buyer") or {}
    return tuple("".join(str(who.get(k) or "").split()).replace("-", "").replace("－", "")
                 for k in ("name", "postal_code", "prefecture", "address"))


def _payment(tx: Tx, order_id: int) -> str:
    return json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id)).get("payment_method") or ""


def _check(tx: Tx, survivor: int, absorbed: list[int]) -> str:
    """The survivor's status, once every order may be merged into it; else a one-line refusal naming why."""
    if not absorbed or survivor in absorbed or len(set(absorbed)) != len(absorbed):
        raise OrderError("merge takes two or more different orders (tsunagi order-merge SHOP ORDER_NO ORDER_NO…)")
    refs = {i: tx.one("SELECT shop, order_no, status FROM orders WHERE id = ?", i) for i in [survivor, *absorbed]}
    for order_id, (shop, order_no, current) in refs.items():
        check_splittable(tx, order_id, "merged")
        if relations.parent(tx, order_id, relations.SPLIT) or relations.children(tx, order_id, relations.SPLIT):
            raise OrderError(f"{order_no} is part of a split order (分割): split orders are not merged")
        if current not in status.RESERVING:
            raise OrderError(f"{order_no} is {status.label(current)} ({current}): only orders holding their stock "
                             f"are merged")
        if shop != refs[survivor][0]:
            raise OrderError(f"{order_no} is an order of shop {shop}, not {refs[survivor][0]}: orders of different "
                             f"shops are never merged")
        if _payment(tx, order_id) != _payment(tx, survivor):
            raise OrderError(f"{order_no} is paid by {_payment(tx, order_id) or '-'}, {refs[survivor][1]} by "
                             f"{_payment(tx, survivor) or '-'}: only orders paid the same way are merged")
        if order_id != survivor and any(n != 1 for n in recipients.line_recipients(tx, order_id)):
            raise OrderError(f"{order_no} ships to several recipients (複数送付先): name it first (the surviving "
                             f"order) or split it first: a parcel goes to one recipient")
        if _recipient(tx, order_id) != _recipient(tx, survivor):
            raise OrderError(f"{order_no} ships to another buyer (name, postcode or address differ from "
                             f"{refs[survivor][1]}): only one buyer's orders are merged (同梱)")
    states = {current for _, _, current in refs.values()}
    if status.PAYMENT in states and len(states) > 1:
        raise OrderError("some of the orders wait for payment (入金待ち) and some do not: confirm the payment first")
    return refs[survivor][2]


def merge(tx: Tx, survivor: int, absorbed: list[int], by: str = "") -> Changed:
    """The absorbed orders' lines and reservations move to the survivor, whose total becomes the sum of all
    (each order's shipping fee, COD fee and discounts stay as the channel charged them); the absorbed orders
    are cancelled by the merge (キャンセル with the merge named; their reservations moved, not released)."""
    current = _check(tx, survivor, absorbed)
    survivor_no, total, data = tx.one("SELECT order_no, total, data FROM orders WHERE id = ?", survivor)
    data = json.loads(data)
    versions.record_replaced(tx, survivor, current_content(tx, survivor), by)   # the channel's copy holds no more
    voided = voids.void_labels(tx, survivor, "注文の同梱")
    for order_id in absorbed:
        order_no, amount, other = tx.one("SELECT order_no, total, data FROM orders WHERE id = ?", order_id)
        other = json.loads(other)
        for fee in relations.FEES:      # the parcel's fees are all the orders' (a COD parcel collects them all)
            data[fee] = (data.get(fee) or 0) + (other.get(fee) or 0)
        voided += voids.void_labels(tx, order_id, "注文の同梱")
        relations.copy_lines(tx, order_id, survivor,
                             tx.value("SELECT COALESCE(MAX(line_no), 0) FROM order_lines WHERE order_id = ?", survivor))
        relations.move_reservations(tx, order_id, survivor)
        relations.record(tx, survivor, order_id, relations.MERGE, by)
        set_status(tx, order_id, status.CANCELLED, note=f"同梱: {survivor_no} に統合 (cancelled by merge){by_whom(by)}")
        note_history(tx, survivor, f"同梱: {order_no} の明細を統合 (+{amount:,}円){by_whom(by)}")
        total += amount
    data["total"] = total
    tx.run("UPDATE orders SET total = ?, data = ?, updated_at = ? WHERE id = ?", total,
           json.dumps(data, ensure_ascii=False), timestamp(), survivor)
    return Changed(current, total, voided)
