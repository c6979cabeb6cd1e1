"""Adopting the channel's latest version of a held order: its lines and amounts replace the order's own."""
from __future__ import annotations

import json

from tsunagi.common.clock import timestamp
from tsunagi.oms import allocate, status, versions
from tsunagi.oms.orders import FINAL, OrderError, SOURCE_LABEL, by_whom, insert_lines, note_history, place
from tsunagi.oms.store import Tx


def adopt(tx: Tx, order_id: int, by: str = "") -> str:
    """The pending other version becomes the order: lines, quantities and amounts replaced, stock
    released and reserved again, both versions in the history. Returns the status it is placed in."""
    current = tx.value("SELECT status FROM orders WHERE id = ?", order_id)
    if current in FINAL:
        raise OrderError(f"the order is {status.label(current)} ({current}): nothing can be adopted any more")
    found = versions.pending(tx, order_id)
    if found is None:
        raise OrderError("the order has no other version to adopt (別の内容は届いていません)")
    wms = allocate.warehouse_has(tx, order_id)
    if wms:
        raise OrderError(f"倉庫 {wms} に出荷を指示済みのため採用できません (倉庫の出荷またはキャンセルの報告を待ってください)")
    version_id, source, content = found
    before = current_content(tx, order_id)
    versions.record_replaced(tx, order_id, before, by)
    allocate.release(tx, order_id, "release:adopt")
    _replace(tx, order_id, content)
    versions.decide(tx, version_id, versions.ADOPTED, by)
    note_history(tx, order_id, f"{SOURCE_LABEL.get(source, source)}の内容を採用: {versions.show(content)} "
                               f"(それまで: {versions.show(before)}){by_whom(by)}")
    return place(tx, order_id)


def current_content(tx: Tx, order_id: int) -> dict:
    """The order's own lines and amounts, in the shape of a version."""
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    lines = [[code, name, json.loads(options), qty, price] for code, name, options, qty, price in tx.all(
        "SELECT channel_sku, name, options, qty, unit_price FROM order_lines WHERE order_id = ? ORDER BY line_no",
        order_id)]
    total = tx.value("SELECT total FROM orders WHERE id = ?", order_id)
    return {"lines": lines, **{name: data.get(name, 0) for name in versions.AMOUNTS}, "total": total}


def _replace(tx: Tx, order_id: int, content: dict) -> None:
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    data.update({name: content[name] for name in versions.AMOUNTS})
    if content.get("more_ship_to"):     # the version's recipients come with its lines
        data["more_ship_to"] = content["more_ship_to"]
    tx.run("UPDATE orders SET total = ?, data = ?, updated_at = ? WHERE id = ?", content["total"],
           json.dumps(data, ensure_ascii=False), timestamp(), order_id)
    tx.run("DELETE FROM order_lines WHERE order_id = ?", order_id)
    recipients = content.get("recipients") or [1] * len(content["lines"])
    insert_lines(tx, order_id, [[*line, n] for line, n in zip(content["lines"], recipients)])
