"""返品: returned units of a shipped order back in stock (good ones to sell, damaged ones where nothing sells), refunds."""
from __future__ import annotations

import json
from dataclasses import dataclass

from tsunagi.common.clock import timestamp
from tsunagi.oms import catalog, stock
from tsunagi.oms.orders import OrderError, by_whom, note_history
from tsunagi.oms.store import Tx
from tsunagi.oms.unship import check_shipped, shipped_units


@dataclass
class Returned:
    units: int          # order units (lines' quantities) taken back
    location: str       # where they went ("" when several: each line's own)
    refunded: int       # the order's refunds so far


def take_back(tx: Tx, order_id: int, line: int | None = None, qty: int | None = None, to: str = "",
              damaged_to: str = "", refund: int = 0, by: str = "") -> Returned:
    """Line (all lines when None) back: qty units (all not yet returned when None) to `to` (default: where
    they shipped from) or, damaged, to damaged_to. The order keeps its status (出荷確定済/請求済: the
    channel's confirmation stands); the return and any refund are in its data and history."""
    check_shipped(tx, order_id, "returned")
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    lines = tx.all("SELECT line_no, channel_sku, sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", order_id)
    if line is not None and not 1 <= line <= len(lines):
        raise OrderError(f"the order has no line {line} (its lines are 1–{len(lines)}: see tsunagi order SHOP ORDER_NO)")
    if to and not damaged_to and tx.one("SELECT 1 FROM locations WHERE location = ?", to) is None:
        raise OrderError(f"unknown location {to!r}: use one of config locations (or a location a stock file named)")
    if qty is not None and (qty < 0 or qty == 0 and not refund):
        raise OrderError(f"quantity {qty}: a return takes 1 or more (--qty 0 only with --refund: a refund alone)")
    if refund < 0:
        raise OrderError(f"refund {refund}: a refund is 0 yen or more")
    done = data.get("returns", [])
    picked = [r for r in lines if line is None or r[0] == line]
    plan = []
    for line_no, code, sku, ordered in picked:
        left = ordered - sum(r["qty"] for r in done if r["line"] == line_no)
        want = left if qty is None else qty
        if want > left:
            raise OrderError(f"line {line_no} ({code}): {want} returned but {left} shipped and not yet returned")
        if want:
            plan.append((line_no, sku, want))
    if not plan and not refund:
        raise OrderError("every shipped unit of the order has already been returned: nothing to take back")
    if damaged_to:
        stock.mark_unsellable(tx, damaged_to)
    where = set()
    for line_no, sku, units in plan:
        where |= _put_back(tx, order_id, sku, units, damaged_to or to)
        done.append({"line": line_no, "qty": units, "location": damaged_to or to or "", "damaged": bool(damaged_to),
                     "at": timestamp(), "by": by})
    refunds = data.get("refunds", []) + ([{"amount": refund, "at": timestamp(), "by": by}] if refund else [])
    data.update(returns=done, refunds=refunds, refunded=sum(r["amount"] for r in refunds))
    tx.run("UPDATE orders SET data = ?, updated_at = ? WHERE id = ?", json.dumps(data, ensure_ascii=False), timestamp(),
           order_id)
    units = sum(u for *_, u in plan)
    shown = ", ".join(f"明細{n}×{u}" for n, _, u in plan)
    note = (f"返品{'(不良)' if damaged_to else ''} {shown} → {', '.join(sorted(where))}" if plan else "返金")
    note += f" 返金 {refund:,}円" if refund else ""
    whole = all(sum(r["qty"] for r in done if r["line"] == n) >= q for n, _, _, q in lines)
    note_history(tx, order_id, note + (" (全数返品済)" if whole else "") + by_whom(by))
    return Returned(units, ", ".join(sorted(where)), data["refunded"])


def _put_back(tx: Tx, order_id: int, sku: str, units: int, to: str) -> set[str]:
    """The units of one line (a set's parts) on hand again: at `to`, else at the slots they shipped from."""
    shipped = shipped_units(tx, order_id)
    where = set()
    for part, per_unit in catalog.components(tx, sku):
        need = per_unit * units
        slots = [(loc, lot) for (s, loc, lot) in sorted(shipped) if s == part] or [(to or "", "")]
        location, lot = (to, "") if to else slots[0]
        if not location:
            raise OrderError(f"no shipment of {part} is recorded for the order: name the location with --to")
        stock.move(tx, part, location, lot, need, 0, "return", f"order:{order_id}")
        where.add(location)
    return where
