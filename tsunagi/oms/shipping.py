"""Shipping: orders made ready with a shipping plan, grouped into shipments, shipped by results, closed."""
from __future__ import annotations

import json
from datetime import date

from tsunagi.common.clock import timestamp, today
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import allocate, catalog, outbox, status
from tsunagi.oms.orders import edited_since_hold, note_history, place, set_status
from tsunagi.oms.records import ShipmentResult
from tsunagi.oms.stock import move
from tsunagi.oms.store import Tx

LIVE = ("exported", "shipped")          # shipment states that count (a cancelled one does not)


class ShippingError(TsunagiError, ValueError):
    """A result that cannot be applied: the message says which shipment or order and why."""


def order_data(tx: Tx, order_id: int) -> dict:
    return json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))


def make_ready(tx: Tx, order_id: int, plan: dict | None, problem: str = "", print_from: date | None = None) -> str:
    """確認待ち → 印刷待ち with the shipping plan (carrier, delivery, payment, time), or 保留 naming the
    channel's delivery/payment/time name that has no mapping (never a guess). print_from: the day a far
    delivery date lets it into 印刷待ち (印刷日待ち until then, after 入金待ち where it pays first)."""
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    if current != status.CONFIRM:
        return current
    if problem:
        set_status(tx, order_id, status.HOLD, hold_kind="unmapped", note=problem)
        return status.HOLD
    data = order_data(tx, order_id)
    plan = dict(plan)
    waits = plan.pop("pay_first", False)       # paid first (銀行振込, コンビニ前払い): no label before the money
    if print_from:
        plan["print_from"] = print_from.isoformat()
    data["shipping"] = plan
    tx.run("UPDATE orders SET data = ?, carrier = ?, updated_at = ? WHERE id = ?", json.dumps(data, ensure_ascii=False),
           plan["carrier"], timestamp(), order_id)
    to = status.PAYMENT if waits else after_payment(plan)
    set_status(tx, order_id, to, note=f"配送 {plan['carrier']} {plan['delivery']}"
               + (f" / 入金待ち (支払方法「{data.get('payment_method', '')}」)" if waits else "")
               + (f" / {plan['print_from']} まで印刷日待ち" if to == status.WAITING_DATE else ""))
    return to


def after_payment(plan: dict) -> str:
    """印刷待ち, or 印刷日待ち while the plan's print_from day is still ahead."""
    return status.WAITING_DATE if plan.get("print_from", "") > today().isoformat() else status.READY


def retry_hold(tx: Tx, order_id: int, plan: dict | None, problem: str = "") -> str:
    """Place a held order again only when what held it may have changed; else write nothing.

    plan and problem are the order's shipping plan as the mapping gives it now. A hold for an unmapped
    name lifts once the plan succeeds; a hold for text no carrier prints, once the order was corrected
    or its plan changed. Returns the order's status."""
    if problem:      # still unmapped: the hold stays, re-worded only if another name is missing now
        set_status(tx, order_id, status.HOLD, hold_kind="unmapped", note=problem)
        return status.HOLD
    kind = tx.value("SELECT hold_kind FROM orders WHERE id = ?", order_id)
    if kind == "label_chars" and plan == order_data(tx, order_id).get("shipping") and not edited_since_hold(tx, order_id):
        return status.HOLD
    return place(tx, order_id)


def uncovered(tx: Tx, order_id: int) -> set[str] | None:
    """The SKUs of an order no live shipment covers yet: None when all are (a shipment without a SKU
    list covers the whole order; a warehouse instruction covers only its SKUs)."""
    covered = _parcel_skus(tx, order_id, LIVE)
    if covered is None:
        return None
    return {r[0] for r in tx.all("SELECT sku FROM order_lines WHERE order_id = ?", order_id)} - covered or None


def _parcel_skus(tx: Tx, order_id: int, states: tuple[str, ...]) -> set[str] | None:
    """The SKUs the order's parcels in these states carry (None: one of them carries the whole order)."""
    out: set[str] = set()
    for (skus,) in tx.all("SELECT s.skus FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                          f"WHERE so.order_id = ? AND s.state IN ({','.join('?' * len(states))})", order_id, *states):
        if not skus:
            return None
        out |= set(skus.split(","))
    return out


def to_export(tx: Tx, carrier: str, shop: str | None = None, order_ids: frozenset[int] | None = None) -> list[int]:
    """Ready orders for this carrier with lines no live shipment covers yet, oldest first (only those of
    order_ids when given: a selection in the console)."""
    sql = ("SELECT o.id, EXISTS (SELECT 1 FROM shipment_orders so JOIN shipments s ON s.id = so.shipment_id "
           "WHERE so.order_id = o.id AND s.state IN (?, ?)) FROM orders o WHERE o.status = ? AND o.carrier = ?")
    params = [*LIVE, status.READY, carrier]
    if shop:
        sql += " AND o.shop = ?"
        params.append(shop)
    return [order_id for order_id, shipped_part in tx.all(sql + " ORDER BY o.ordered_at, o.id", *params)
            if (order_ids is None or order_id in order_ids) and (not shipped_part or uncovered(tx, order_id) is not None)]


def _locations(tx: Tx, order_id: int) -> list[str]:
    return [r[0] for r in tx.all(
        "SELECT DISTINCT r.location FROM reservations r LEFT JOIN locations l ON l.location = r.location "
        "WHERE r.order_id = ? ORDER BY COALESCE(l.priority, 1000000), r.location", order_id)]


def _merge_key(tx: Tx, order_id: int) -> tuple | None:
    """Orders that may share one parcel (同梱): same shop, recipient, service and day; prepaid only,
    since a COD parcel collects one order's amount."""
    shop, data = tx.one("SELECT shop, data FROM orders WHERE id = ?", order_id)
    data = json.loads(data)
    plan = data.get("shipping") or {}
    if plan.get("payment") != "prepaid" or data.get("more_ship_to"):   # several recipients: a parcel each
        return None
    st = data.get("ship_to") or {}
    return (shop, st.get("name"), st.get("postal_code"), st.get("address"), st.get("phone"),
            plan.get("delivery"), plan.get("time"), data.get("requested_date"))


def open_shipments(tx: Tx, carrier: str, order_ids: list[int], merge: bool = False) -> list[dict]:
    """Shipments for these orders: one per order; one per stock location when an order's stock sits in
    several (分割, keys -1, -2, …); one per recipient of an order with several (複数送付先: each of its recipients'
    locations, keys -1, -2, …); one for several orders to the same recipient when merging (同梱)."""
    groups: list[tuple[list[int], str, str, int]] = []       # (orders, location, key, recipient)
    merged: dict[tuple, list[int]] = {}
    # orders with a line to another recipient than the first: one look (a partial index), not a question an order
    others = {r[0] for r in tx.all("SELECT DISTINCT order_id FROM order_lines WHERE recipient <> 1")}
    for order_id in order_ids:
        if partial(tx, order_id):     # a warehouse has part of it: this parcel is the rest, alone
            groups.append(([order_id], "", f"T{order_id:08d}", 0))
            continue
        parcels = _recipient_parcels(tx, order_id, order_id in others)
        if len(parcels) > 1:
            groups += [([order_id], loc, f"T{order_id:08d}-{n}", r) for n, (r, loc) in enumerate(parcels, 1)]
            continue
        key = _merge_key(tx, order_id) if merge else None
        if key is not None and key in merged:
            merged[key].append(order_id)
            continue
        groups.append(([order_id], "", f"T{order_id:08d}", parcels[0][0] if parcels else 0))
        if key is not None:
            merged[key] = groups[-1][0]
    out = []
    for members, location, key, recipient in groups:
        rest = uncovered(tx, members[0]) if partial(tx, members[0]) else None
        skus = ",".join(sorted(rest)) if rest else ""
        shipment_id = new_shipment(tx, key, carrier, location, skus, recipient)
        tx.many("INSERT INTO shipment_orders (shipment_id, order_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(shipment_id, o) for o in members])
        out.append({"id": shipment_id, "key": key, "orders": members, "location": location, "skus": skus,
                    "recipient": recipient})
    return out


def _recipient_parcels(tx: Tx, order_id: int, others: bool) -> list[tuple[int, str]]:
    """(recipient, location) of each parcel of the order: a location each where its stock sits in several,
    for each recipient its lines go to when some go to another than the first (others) (recipient 0: the
    order's only one; location '': one parcel for the recipient). No element, or one, when neither splits it."""
    locations = _locations(tx, order_id)
    if not others:
        return [(0, loc) for loc in locations] if len(locations) > 1 else []
    out = []
    for recipient, skus in _skus_by_recipient(tx, order_id).items():
        held = [loc for loc in locations if tx.one(
            f"SELECT 1 FROM reservations WHERE order_id = ? AND location = ? AND sku IN ({','.join('?' * len(skus))})",
            order_id, loc, *skus)]
        out += [(recipient, loc) for loc in held] if len(held) > 1 else [(recipient, "")]
    return out


def _skus_by_recipient(tx: Tx, order_id: int) -> dict[int, list[str]]:
    """The stocked SKUs (a set's parts) each recipient's lines take, recipients in order."""
    out: dict[int, list[str]] = {}
    for recipient, sku in tx.all("SELECT recipient, sku FROM order_lines WHERE order_id = ? ORDER BY recipient, "
                                 "line_no", order_id):
        out.setdefault(recipient, []).extend(part for part, _ in catalog.components(tx, sku))
    return out


def partial(tx: Tx, order_id: int) -> bool:
    return tx.one("SELECT 1 FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                  "WHERE so.order_id = ? AND s.state IN (?, ?) AND s.skus <> ''", order_id, *LIVE) is not None


def new_shipment(tx: Tx, key: str, carrier: str, location: str = "", skus: str = "", recipient: int = 0) -> int:
    """A shipment under this key (a re-export after a cancelled one takes the key again)."""
    return tx.one(
        "INSERT INTO shipments (key, carrier, state, location, exported_at, skus, recipient) "
        "VALUES (?, ?, 'exported', ?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET carrier = excluded.carrier, state = 'exported', location = excluded.location, "
        "exported_at = excluded.exported_at, tracking = '', ship_date = '', skus = excluded.skus, "
        "recipient = excluded.recipient RETURNING id", key, carrier, location, timestamp(), skus, recipient)[0]


def set_file(tx: Tx, shipment_ids: list[int], name: str) -> None:
    tx.many("UPDATE shipments SET file = ? WHERE id = ?", [(name, i) for i in shipment_ids])


def _consume(tx: Tx, order_id: int, skus: set[str] | None = None) -> None:
    """Shipping takes the reserved units (of these SKUs; None: all) out of stock: on hand and reserved go down."""
    for sku, location, lot, qty in tx.all(
            "SELECT sku, location, lot, qty FROM reservations WHERE order_id = ?", order_id):
        if skus is None or sku in skus:
            move(tx, sku, location, lot, -qty, -qty, "ship", f"order:{order_id}")
            if skus is not None:
                tx.run("DELETE FROM reservations WHERE order_id = ? AND sku = ? AND location = ? AND lot = ?",
                       order_id, sku, location, lot)
    if skus is None:
        tx.run("DELETE FROM reservations WHERE order_id = ?", order_id)


def tracking_of(tx: Tx, order_id: int) -> tuple[list[str], str]:
    """All tracking numbers of an order's live shipments, and the latest ship date."""
    rows = tx.all("SELECT s.tracking, s.ship_date FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                  "WHERE so.order_id = ? AND s.state IN (?, ?) ORDER BY s.key", order_id, *LIVE)
    return _numbers(tracking for tracking, _ in rows), max((d for _, d in rows), default="")


def _numbers(trackings) -> list[str]:
    """Each parcel's comma-separated numbers, in parcel order, each once."""
    return list(dict.fromkeys(t for tracking in trackings for t in tracking.split(",") if t))


def apply_result(tx: Tx, rec: ShipmentResult, row: tuple | None = None, left: bool = False) -> str:
    """A carrier's (or warehouse's) result for one shipment: its orders are shipped once every
    shipment they are in has shipped. A changed tracking number on a shipped order is confirmed again.
    row: the shipment's (id, state, tracking) where the caller has already read it. left: the parcel
    left whatever the order's status (a warehouse's: it was told to ship it and did)."""
    row = row or tx.one("SELECT id, state, tracking FROM shipments WHERE key = ?", rec.key)
    if row is None:
        raise ShippingError(f"お客様管理番号 {rec.key} の出荷データがありません")
    shipment_id, state, old = row
    if state == "cancelled":
        raise ShippingError(f"お客様管理番号 {rec.key} の出荷は取り消し済みです")
    tracking = ",".join(rec.tracking)
    if state == "shipped" and old == tracking:
        return "unchanged"
    tx.run("UPDATE shipments SET state = 'shipped', tracking = ?, ship_date = ? WHERE id = ?",
           tracking, rec.ship_date.isoformat() if rec.ship_date else timestamp()[:10], shipment_id)
    outcome = "partial"
    for (order_id,) in tx.all("SELECT order_id FROM shipment_orders WHERE shipment_id = ?", shipment_id):
        outcome = _order_after_result(tx, order_id, tracking, changed=state == "shipped", left=left) or outcome
    return outcome


def _order_after_result(tx: Tx, order_id: int, tracking: str, changed: bool, left: bool = False) -> str | None:
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    if current in (status.SHIPPED, status.CLOSED):
        if changed:
            note_history(tx, order_id, f"追跡番号の変更: {tracking}")
            outbox.emit(tx, outbox.SHIPMENT, str(order_id), {"reconfirm": True})
            return "tracking_changed"
        return None
    if current != status.READY and not left:
        raise ShippingError(f"注文 (id {order_id}) は {status.label(current)} のため出荷済みにできません")
    parcels = tx.all("SELECT s.state, s.tracking FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                     "WHERE so.order_id = ? AND s.state IN (?, ?) ORDER BY s.key", order_id, *LIVE)
    numbers = ", ".join(_numbers(tracking for _, tracking in parcels))
    if current == status.CANCELLED:      # too late to stop: what left is consumed, the rest given back
        _consume(tx, order_id, _parcel_skus(tx, order_id, ("shipped",)))
        allocate.release(tx, order_id, "release:cancelled")
        note_history(tx, order_id, f"キャンセル後に倉庫が出荷しました (追跡番号 {numbers})")
        return "shipped_after_cancel"
    if any(state == "exported" for state, _ in parcels) or (current != status.READY and uncovered(tx, order_id)):
        if current == status.HOLD:       # part of it left while held: the hold says so
            note_on_hold(tx, order_id, f"倉庫から一部出荷済み (追跡番号 {tracking})")
        return None       # another parcel of this order is still on its way out (or has none yet)
    _consume(tx, order_id)
    held = f" (保留中に倉庫が出荷: {hold_reason(tx, order_id)})" if current == status.HOLD else ""
    set_status(tx, order_id, status.SHIPPED, note=f"追跡番号 {numbers}{held}")   # its event confirms it
    return "shipped"


def hold_reason(tx: Tx, order_id: int) -> str:
    return tx.value("SELECT hold_reason FROM orders WHERE id = ?", order_id, default="")


def note_on_hold(tx: Tx, order_id: int, text: str) -> None:
    """Add what happened to a held order to its hold reason (once) and its history."""
    reason = hold_reason(tx, order_id)
    if text not in reason:
        tx.run("UPDATE orders SET hold_reason = ?, updated_at = ? WHERE id = ?", f"{reason} / {text}", timestamp(),
               order_id)
        note_history(tx, order_id, text)


def record_confirmation(tx: Tx, order_id: int, shop: str, tracking: str, file: str) -> None:
    tx.run("INSERT INTO confirmations (order_id, shop, tracking, file, written_at) VALUES (?, ?, ?, ?, ?)",
           order_id, shop, tracking, file, timestamp())


def close(tx: Tx, order_ids: list[int], note: str) -> int:
    """出荷確定済 → 請求済 once the channel has its confirmation."""
    closed = 0
    for order_id in order_ids:
        if tx.value("SELECT status FROM orders WHERE id = ?", order_id) == status.SHIPPED:
            set_status(tx, order_id, status.CLOSED, note=note)
            closed += 1
    return closed


def confirmation_pushed(tx: Tx, file: str) -> int:
    """The channel took the confirmation file: its orders are closed."""
    ids = [r[0] for r in tx.all("SELECT order_id FROM confirmations WHERE file = ? AND pushed_at IS NULL", file)]
    tx.run("UPDATE confirmations SET pushed_at = ? WHERE file = ?", timestamp(), file)
    return close(tx, ids, f"出荷通知 {file} を送信")



def item_names(tx: Tx, order_id: int, location: str = "", skus: list[str] | None = None,
               recipient: int = 0) -> list[str]:
    """Product names of the order's lines in one parcel (those at location, of skus, to the recipient), in line
    order, each once."""
    sql = ("SELECT DISTINCT COALESCE(p.name, l.name) FROM order_lines l LEFT JOIN products p ON p.sku = l.sku "
           "WHERE l.order_id = ?")
    params: list = [order_id]
    if recipient:
        sql += " AND l.recipient = ?"
        params.append(recipient)
    if location:
        sql += " AND l.sku IN (SELECT sku FROM reservations WHERE order_id = ? AND location = ?)"
        params += [order_id, location]
    if skus:
        sql += f" AND l.sku IN ({','.join('?' * len(skus))})"
        params += skus
    return [r[0] for r in tx.all(sql + " ORDER BY l.line_no", *params)]


def orders_total(tx: Tx, order_ids: list[int]) -> int:
    """The sum of these orders' totals (what a parcel collects on delivery)."""
    return sum(tx.value("SELECT total FROM orders WHERE id = ?", order_id) for order_id in order_ids)


def withdraw_parcel(tx: Tx, shipment_id: int, order_ids: list[int], note: str) -> None:
    """A parcel whose label cannot be written: its shipment is cancelled and its ready orders held (label_chars)."""
    tx.run("UPDATE shipments SET state = 'cancelled' WHERE id = ?", shipment_id)
    for order_id in order_ids:
        if tx.value("SELECT status FROM orders WHERE id = ?", order_id) == status.READY:
            set_status(tx, order_id, status.HOLD, hold_kind="label_chars", note=note)


def last_ship_date(tx: Tx, order_id: int) -> date | None:
    """The latest ship date of the order's parcels, if any has one."""
    dates = [r[0] for r in tx.all("SELECT s.ship_date FROM shipments s JOIN shipment_orders so "
                                  "ON so.shipment_id = s.id WHERE so.order_id = ? AND s.ship_date <> ''", order_id)]
    return date.fromisoformat(max(dates)) if dates else None
