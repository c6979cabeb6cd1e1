"""A person's change to an order's lines: quantity, price, a line added or taken out; totals and stock follow."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from tsunagi.common.clock import timestamp
from tsunagi.oms import allocate, catalog, relations, status, versions, voids
from tsunagi.oms.adopt import current_content
from tsunagi.oms.orders import FINAL, OrderError, by_whom, note_history, place, set_status
from tsunagi.oms.store import Tx


@dataclass
class Changed:
    """What a change did: the order's status after it, its new total, the labels it voided (key, file)."""
    status: str
    total: int
    voided: list[tuple[str, str]] = field(default_factory=list)
    warehouse: str = ""       # the warehouse told to cancel it (an order cancelled after instruction)


def check_open(tx: Tx, order_id: int, doing: str) -> str:
    """The order's status, if a person may still change it; else a one-line refusal naming why."""
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    if current in FINAL:
        raise OrderError(f"the order is {status.label(current)} ({current}): it cannot be {doing} any more")
    shipped = voids.shipped_part(tx, order_id)
    if shipped:
        raise OrderError(f"part of the order has shipped (追跡番号 {shipped}): it cannot be {doing} any more")
    return current


def _check_lines_open(tx: Tx, order_id: int) -> str:
    current = check_open(tx, order_id, "changed")
    wms = allocate.warehouse_has(tx, order_id)
    if wms:
        raise OrderError(f"倉庫 {wms} に出荷を指示済みのため明細を変更できません (tsunagi order-cancel で注文ごと"
                         f"取り消すか、倉庫の出荷またはキャンセルの報告を待ってください)")
    return current


def _lines(tx: Tx, order_id: int) -> list[tuple]:
    return tx.all("SELECT channel_sku, sku, name, options, qty, unit_price, recipient FROM order_lines "
                  "WHERE order_id = ? ORDER BY line_no", order_id)


def lines_sum(lines) -> int:
    """What these lines, as _lines reads them, add up to (quantity × unit price)."""
    return sum(line[4] * line[5] for line in lines)


def _line_index(lines: list, n: int) -> int:
    if not 1 <= n <= len(lines):
        raise OrderError(f"the order has no line {n} (its lines are 1–{len(lines)}: see tsunagi order SHOP ORDER_NO)")
    return n - 1


def _check_qty(qty: int, n: int | None = None) -> None:
    if qty <= 0:
        take_out = f" (to take line {n} out: tsunagi order-lines SHOP ORDER_NO remove {n})" if n else ""
        raise OrderError(f"quantity {qty}: a line takes 1 or more{take_out}")


def _check_price(price: int) -> None:
    if price < 0:
        raise OrderError(f"price {price}: a unit price is 0 yen or more")


def set_line(tx: Tx, order_id: int, n: int, qty: int, price: int | None = None, by: str = "") -> Changed:
    """Line n gets a new quantity (and unit price)."""
    _check_lines_open(tx, order_id)
    lines = _lines(tx, order_id)
    i = _line_index(lines, n)
    _check_qty(qty, n)
    if price is not None:
        _check_price(price)
    code, sku, name, options, old_qty, old_price, recipient = lines[i]
    if qty == old_qty and price in (None, old_price):
        raise OrderError(f"line {n} is already {code}×{qty} at {old_price:,}円: nothing to change")
    lines[i] = (code, sku, name, options, qty, old_price if price is None else price, recipient)
    shown = f"明細{n} {code} 数量 {qty}" + ("" if price is None else f" 単価 {price:,}円")
    return _change(tx, order_id, lines, shown, by)


def add_line(tx: Tx, order_id: int, code: str, qty: int, price: int, by: str = "") -> Changed:
    """A new last line of a product the master knows (its channel code or its SKU)."""
    _check_lines_open(tx, order_id)
    shop = tx.value("SELECT shop FROM orders WHERE id = ?", order_id)
    product = catalog.product_for(tx, shop, code)
    if product is None:
        raise OrderError(f"商品マスタにない商品コード: {code} (tsunagi products import で登録してから追加してください)")
    _check_qty(qty)
    _check_price(price)
    lines = _lines(tx, order_id) + [(code, product, catalog.product_name(tx, product) or code, "[]", qty, price, 1)]
    return _change(tx, order_id, lines, f"明細追加 {code}×{qty} 単価 {price:,}円", by)


def remove_line(tx: Tx, order_id: int, n: int, by: str = "", verb: str = "明細削除", reason: str = "") -> Changed:
    """Line n taken out of the order (the last line never: that is cancelling the order)."""
    _check_lines_open(tx, order_id)
    lines = _lines(tx, order_id)
    i = _line_index(lines, n)
    if len(lines) == 1:
        raise OrderError(f"line {n} is the order's only line: to cancel the order use tsunagi order-cancel SHOP ORDER_NO")
    code, _, _, _, qty, _, _ = lines.pop(i)
    return _change(tx, order_id, lines, f"{verb} 明細{n} {code}×{qty}" + (f" 理由: {reason}" if reason else ""), by)


def _change(tx: Tx, order_id: int, lines: list[tuple], shown: str, by: str) -> Changed:
    """The new lines in place (numbered 1…), the totals recalculated, a written label voided, the stock
    reserved again, and the change in the history with both contents and who made it."""
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    before = current_content(tx, order_id)
    old_sum = lines_sum(_lines(tx, order_id))
    tx.run("DELETE FROM order_lines WHERE order_id = ?", order_id)
    write_lines(tx, order_id, lines)
    total = retotal(tx, order_id, lines_sum(lines) - old_sum)
    voided = voids.void_labels(tx, order_id, "明細の変更")
    note_history(tx, order_id, f"{shown} ({versions.show(before)} → {versions.show(current_content(tx, order_id))})"
                               f"{by_whom(by)}")
    return Changed(_reserve_again(tx, order_id, current), total, voided)


def write_lines(tx: Tx, order_id: int, lines) -> None:
    """The order's lines as stored, numbered from 1: (channel SKU, SKU, name, options JSON, qty, unit price,
    recipient) each."""
    tx.many("INSERT INTO order_lines (order_id, line_no, channel_sku, sku, name, options, qty, unit_price, recipient) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [(order_id, n, *line) for n, line in enumerate(lines, 1)])


def retotal(tx: Tx, order_id: int, delta: int) -> int:
    """The total moves by what the lines' sum moved: shipping, COD fee and discounts stay as the channel set them.
    (Orders carry unit prices with tax included and no separate tax figure, so there is none to recalculate.)"""
    total = tx.value("SELECT total FROM orders WHERE id = ?", order_id) + delta
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    data["total"] = total
    tx.run("UPDATE orders SET total = ?, data = ?, updated_at = ? WHERE id = ?", total,
           json.dumps(data, ensure_ascii=False), timestamp(), order_id)
    return total


def _reserve_again(tx: Tx, order_id: int, current: str) -> str:
    """An order holding stock keeps its status with the new lines reserved, or waits (引当待ち) as a new order
    would; a waiting order is placed again; a held order stays held (an unknown SKU's hold is tried again)."""
    if current == status.AWAITING_STOCK or (
            current == status.HOLD and tx.value("SELECT hold_kind FROM orders WHERE id = ?", order_id) == "unknown_sku"):
        return place(tx, order_id)
    if current not in status.RESERVING:
        return current
    allocate.release(tx, order_id, "release:edit")
    if allocate.reserve_all(tx, order_id, _needs(tx, order_id)):
        return current
    set_status(tx, order_id, status.AWAITING_STOCK, note="在庫不足 (明細の変更後)")
    return status.AWAITING_STOCK


def _needs(tx: Tx, order_id: int) -> dict[str, int]:
    """Units of each stocked SKU the order's lines take (a set's components for a set)."""
    return relations.needs(tx, tx.all("SELECT sku, qty FROM order_lines WHERE order_id = ?", order_id))
