"""Orders: create or update from a record, place them (reserve, wait or hold), move their status."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import fields
from datetime import date, datetime

from tsunagi.common.clock import timestamp
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import allocate, awaiting, catalog, outbox, review, status, versions
from tsunagi.oms.records import Address, OrderRecord
from tsunagi.oms.store import Tx


class OrderError(TsunagiError, ValueError):
    """An operation the order's state does not allow; the message says why."""


class OrderLocked(OrderError):
    """A status change refused while a warehouse is working on the order."""


# Statuses an order no longer leaves by re-import.
FINAL = frozenset({status.SHIPPED, status.CLOSED, status.CANCELLED})
# Entering these gives the order's reserved stock back (shipping consumes it instead).
RELEASING = frozenset({status.AWAITING_STOCK, status.HOLD, status.CANCELLED})
# ...except these, while a warehouse has the order (a lower count still makes it give way: the count is true).
KEPT_FOR_WAREHOUSE = frozenset({status.HOLD, status.CANCELLED})


_FIELDS = tuple(f.name for f in fields(OrderRecord) if f.name != "lines")


def record_data(rec: OrderRecord) -> dict:
    """The order's details as stored: everything but the lines, which have their own table.
    (Shallow on purpose: dataclasses.asdict deep-copies and cost more than the rest of an import.)"""
    data = {}
    for name in _FIELDS:
        value = getattr(rec, name)
        if isinstance(value, Address):
            value = dict(value.__dict__)
        elif name == "more_ship_to":
            if not value:       # stored only where there are several: one recipient's data stays as it was
                continue
            value = [dict(a.__dict__) for a in value]
        elif isinstance(value, (date, datetime)):
            value = value.isoformat()
        data[name] = value
    return data


def _fill_blanks(old: dict, new: dict) -> dict:
    """A later copy of an order fills what was missing; it does not overwrite what was known."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            out[key] = _fill_blanks(old[key], value)
        elif old.get(key) in (None, "", 0) and value not in (None, ""):
            out[key] = value
    return out


def find(tx: Tx, shop: str, order_no: str) -> tuple[int, str] | None:
    row = tx.one("SELECT id, status FROM orders WHERE shop = ? AND order_no = ?", shop, order_no)
    return (row[0], row[1]) if row else None


def set_status(tx: Tx, order_id: int, to: str, note: str = "", hold_kind: str = "") -> None:
    """Move an order, with its history row and outbox event; leaving a reserving status releases."""
    current, reason = tx.one("SELECT status, hold_reason FROM orders WHERE id = ?", order_id)
    if current == to and (to != status.HOLD or reason == note):
        return
    if to not in (status.SHIPPED, status.CLOSED, status.HOLD) and _any_in_process(tx):
        busy = tx.value("SELECT wms FROM wms_orders WHERE order_id = ? AND state = 'in_process'", order_id)
        if busy:
            raise OrderLocked(f"倉庫 {busy} で作業中のため{status.label(to)}にできません (倉庫に連絡し、"
                              f"倉庫の取消または出荷の報告を待ってください)")
    # a warehouse told to ship the order may ship it still: its units stay reserved until it ships or cancels
    if to in RELEASING and not (to in KEPT_FOR_WAREHOUSE and allocate.warehouse_has(tx, order_id)):
        allocate.release(tx, order_id, f"release:{to}")
    stamp = timestamp()
    tx.run("UPDATE orders SET status = ?, hold_kind = ?, hold_reason = ?, updated_at = ? WHERE id = ?",
           to, hold_kind if to == status.HOLD else "", note if to == status.HOLD else "", stamp, order_id)
    tx.run("INSERT INTO order_history (order_id, at, from_status, to_status, note) VALUES (?, ?, ?, ?, ?)",
           order_id, stamp, current, to, note)
    outbox.emit(tx, outbox.ORDER, str(order_id), {"from": current, "to": to, "note": note})


CANCELLED_AT_CHANNEL = "cancelled"   # OrderRecord.channel_status of an order the channel cancelled
SOURCE_LABEL = {"mail": "メール", "csv": "受注CSV"}


def _any_in_process(tx: Tx) -> bool:
    """Whether any warehouse works on any order (asked once a transaction; wms clears it on change)."""
    if "wms_in_process" not in tx.memo:
        tx.memo["wms_in_process"] = tx.one("SELECT 1 FROM wms_orders WHERE state = 'in_process' LIMIT 1") is not None
    return tx.memo["wms_in_process"]


def apply_order(tx: Tx, rec: OrderRecord) -> str:
    """Create, or update an order known by (shop, order number); never duplicate, never reserve twice.

    A copy from the other way in (mail, or the order CSV) completes it; the first CSV copy confirms it
    (新規受付 → 確認待ち); a copy that disagrees puts it on hold; a cancelled copy cancels it.
    Returns what happened: created (held: created but on hold), updated, unchanged, confirmed, cancelled,
    conflict or mismatch."""
    found = find(tx, rec.shop, rec.order_no)
    if found is None:
        order_id = insert(tx, rec)
        if rec.channel_status == CANCELLED_AT_CHANNEL:
            set_status(tx, order_id, status.CANCELLED, note=f"{SOURCE_LABEL[rec.source]}でキャンセル済み")
        elif place(tx, order_id) == status.HOLD:
            return "held"
        return "created"
    order_id, current = found
    seen = "csv_at" if rec.source == "csv" else "mail_at"
    data, total, first_seen = tx.one(f"SELECT data, total, {seen} IS NULL FROM orders WHERE id = ?", order_id)
    old = json.loads(data)
    merged = _fill_blanks(old, record_data(rec))
    if rec.source == "csv" and rec.total:
        merged["channel_total"] = rec.total       # the channel's latest word (refunds, coupons): ship mismatch
    if rec.source == "csv" and awaiting.waiting(old):     # a partial mail's order: the CSV brings its prices
        merged = awaiting.complete(tx, order_id, merged, rec)
    tx.run(f"UPDATE orders SET data = ?, updated_at = ?, {seen} = COALESCE({seen}, ?) WHERE id = ?",
           json.dumps(merged, ensure_ascii=False), timestamp(), timestamp(), order_id)
    if rec.channel_status == CANCELLED_AT_CHANNEL:
        if current in FINAL:
            return "unchanged" if current == status.CANCELLED else "updated"
        set_status(tx, order_id, status.CANCELLED, note=f"{SOURCE_LABEL[rec.source]}でキャンセル")
        return "cancelled"
    if current in FINAL:
        return "updated" if merged != old else "unchanged"
    problems = _differences(tx, order_id, total, rec)
    if problems:
        if not versions.offer(tx, order_id, rec):
            return "unchanged"        # a version a person has set aside already (order-release)
        kind = "mismatch" if first_seen else "conflict"
        intro = ("メールと受注CSVの内容が一致しません" if kind == "mismatch"
                 else "同じ注文番号で内容の異なる注文が届きました")
        wms = allocate.warehouse_has(tx, order_id)
        kept = f" (倉庫 {wms} に出荷指示済み: 引当はそのまま)" if wms else ""
        set_status(tx, order_id, status.HOLD, hold_kind=kind, note=f"{intro}: {'; '.join(problems)}{kept} "
                   f"(tsunagi order-adopt で{SOURCE_LABEL.get(rec.source, rec.source)}の内容を採用、"
                   f"order-release で登録済みの内容のまま)")
        return kind
    if rec.source == "csv" and first_seen and current == status.NEW:
        set_status(tx, order_id, status.CONFIRM, note="受注CSVで確認")
        return "confirmed"
    return "updated" if merged != old or first_seen else "unchanged"


def _differences(tx: Tx, order_id: int, known_total: int, rec: OrderRecord) -> list[str]:
    """What a new copy says differently about the lines (SKU, quantity) and the total."""
    out = []
    before = versions.line_keys(tx.all("SELECT channel_sku, qty FROM order_lines WHERE order_id = ?", order_id))
    after = versions.line_keys((line.channel_sku, line.qty) for line in rec.lines)
    label = SOURCE_LABEL.get(rec.source, rec.source)
    if before != after:
        out.append(f"商品・数量 登録済み {versions.show_lines(before)} / {label} {versions.show_lines(after)}")
    if rec.total and known_total and rec.total != known_total:
        out.append(f"合計金額 登録済み {known_total:,}円 / {label} {rec.total:,}円")
    return out


def insert(tx: Tx, rec: OrderRecord) -> int:
    """The order's row and lines, no status yet (the caller places it)."""
    stamp = timestamp()
    seen = "csv_at" if rec.source == "csv" else "mail_at"
    data = record_data(rec)
    if rec.source == "csv" and rec.total:
        data["channel_total"] = rec.total     # as an update would keep it: the same copy again is unchanged
    cur = tx.run("INSERT INTO orders (shop, order_no, status, ordered_at, total, source, data, "
                 f"created_at, updated_at, {seen}) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, ?)",
                 rec.shop, rec.order_no, rec.ordered_at.isoformat(), rec.total, rec.source,
                 json.dumps(data, ensure_ascii=False), stamp, stamp, stamp)
    order_id = cur.lastrowid
    insert_lines(tx, order_id, [(line.channel_sku, line.name, line.options, line.qty, line.unit_price, line.recipient)
                                for line in rec.lines])
    return order_id


def insert_lines(tx: Tx, order_id: int, lines) -> None:
    """The order's lines, numbered from 1: (channel SKU, name, options, quantity, unit price[, recipient]) each."""
    tx.many("INSERT INTO order_lines (order_id, line_no, channel_sku, name, options, qty, unit_price, recipient) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(order_id, n, code, name, json.dumps(list(options), ensure_ascii=False), qty, price, *(rest or [1]))
             for n, (code, name, options, qty, price, *rest) in enumerate(lines, 1)])


def place(tx: Tx, order_id: int) -> str:
    """Resolve the lines to stocked SKUs and reserve them all: 新規受付 (確認待ち once confirmed),
    else 引当待ち, else 保留."""
    shop = tx.value("SELECT shop FROM orders WHERE id = ?", order_id)
    needs: dict[str, int] = defaultdict(int)
    unknown = []
    for line_no, code, qty in tx.all(
            "SELECT line_no, channel_sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", order_id):
        product = catalog.product_for(tx, shop, code)
        if product is None:
            unknown.append(code)
            continue
        tx.run("UPDATE order_lines SET sku = ? WHERE order_id = ? AND line_no = ?", product, order_id, line_no)
        for sku, per_unit in catalog.components(tx, product):
            needs[sku] += per_unit * qty
    if unknown:
        set_status(tx, order_id, status.HOLD, hold_kind="unknown_sku",
                   note=f"商品マスタにない商品コード: {', '.join(unknown)} (tsunagi products import で登録)")
        return status.HOLD
    if allocate.has_reservation(tx, order_id) or allocate.reserve_all(tx, order_id, needs):
        # an order the channel's CSV has confirmed goes on to 確認待ち once it has its stock
        placed = status.CONFIRM if tx.value("SELECT csv_at FROM orders WHERE id = ?", order_id) else status.NEW
        set_status(tx, order_id, placed)
        return placed
    set_status(tx, order_id, status.AWAITING_STOCK, note="在庫不足")
    return status.AWAITING_STOCK


def retry_waiting(tx: Tx) -> int:
    """Give stock to orders that wait for it (and to holds for an unknown SKU), oldest first."""
    placed = 0
    for (order_id,) in tx.all(
            "SELECT id FROM orders WHERE status = ? OR (status = ? AND hold_kind = 'unknown_sku') "
            "ORDER BY ordered_at, id", status.AWAITING_STOCK, status.HOLD):
        if place(tx, order_id) in (status.NEW, status.CONFIRM):
            placed += 1
    return placed


EDITED = "修正: "     # how a correction's history row begins
EDITABLE = {f"{who}.{part}" for who in ("buyer", "ship_to")
            for part in ("name", "postal_code", "prefecture", "address", "phone", "email")}


def edit(tx: Tx, order_id: int, changes: dict[str, str]) -> None:
    """Correct the buyer's or recipient's details (a typo, a character no carrier takes), with history."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise OrderError(f"cannot edit {unknown[0]} (editable: {', '.join(sorted(EDITABLE))})")
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    for key, value in changes.items():
        who, part = key.split(".")
        data.setdefault(who, {})[part] = value
    tx.run("UPDATE orders SET data = ?, updated_at = ? WHERE id = ?", json.dumps(data, ensure_ascii=False),
           timestamp(), order_id)
    note_history(tx, order_id, EDITED + ", ".join(f"{k}={v}" for k, v in changes.items()))


def edited_since_hold(tx: Tx, order_id: int) -> bool:
    """Whether a person corrected the order after its last status change (a hold, for a held order)."""
    note = tx.value("SELECT note FROM order_history WHERE order_id = ? ORDER BY id DESC LIMIT 1", order_id, default="")
    return note.startswith(EDITED)


def release(tx: Tx, order_id: int, by: str = "") -> str:
    """Lift a hold after a person has looked at it: the order is placed again (reserve, or wait), with
    its own lines: another version that held it is set aside (and holds it no more)."""
    code, kind = tx.one("SELECT status, hold_kind FROM orders WHERE id = ?", order_id)
    if code != status.HOLD:
        raise OrderError("the order is not on hold (保留ではありません)")
    if kind == "review":      # a person has looked: the same rules do not hold it again
        note_history(tx, order_id, f"要確認を解除: {', '.join(review.record_release(tx, order_id))}{by_whom(by)}")
    other = versions.keep_current(tx, order_id, by)
    if other:
        note_history(tx, order_id, f"登録済みの内容のまま保留を解除: 届いた別の内容 {versions.show(other)} は採用せず"
                                   f"{by_whom(by)}")
    return place(tx, order_id)


def note_history(tx: Tx, order_id: int, note: str) -> None:
    """A history row that changes no status (a decision, a correction)."""
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    tx.run("INSERT INTO order_history (order_id, at, from_status, to_status, note) VALUES (?, ?, ?, ?, ?)",
           order_id, timestamp(), current, current, note)


def by_whom(by: str) -> str:
    return f" (操作: {by})" if by else ""
