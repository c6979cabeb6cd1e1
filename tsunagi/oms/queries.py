"""Read-only views of orders and stock, in the stable shape the command line prints as JSON."""
from __future__ import annotations

from tsunagi.oms import status
from tsunagi.oms.readmodel import load_order
from tsunagi.oms.store import Tx


def order_view(tx: Tx, order_id: int, history: bool = False) -> dict:
    """The order in the stable JSON shape the command line prints (the read model's as_dict)."""
    return load_order(tx, order_id, history).as_dict()


def order_ids(tx: Tx, status_code: str | None = None, shop: str | None = None) -> list[int]:
    sql, params = "SELECT id FROM orders WHERE 1 = 1", []
    if status_code:
        sql += " AND status = ?"
        params.append(status_code)
    if shop:
        sql += " AND shop = ?"
        params.append(shop)
    return [r[0] for r in tx.all(sql + " ORDER BY ordered_at, id", *params)]


def find_order(tx: Tx, shop: str, order_no: str) -> int | None:
    return tx.value("SELECT id FROM orders WHERE shop = ? AND order_no = ?", shop, order_no)


def unconfirmed(tx: Tx, cutoffs: dict[str, str]) -> list[int]:
    """Orders that came by mail and no order CSV has confirmed since; cutoffs: shop -> time before
    which the mail must have come for the gap to count."""
    out = []
    for shop, cutoff in cutoffs.items():
        out += [r[0] for r in tx.all(
            "SELECT id FROM orders WHERE shop = ? AND mail_at IS NOT NULL AND csv_at IS NULL "
            "AND mail_at < ? AND status <> ? ORDER BY ordered_at, id", shop, cutoff, status.CANCELLED)]
    return out


def mail_missing(tx: Tx, cutoffs: dict[str, str]) -> list[int]:
    """Orders that came by order CSV with no order mail, for shops that forward their mail."""
    out = []
    for shop, cutoff in cutoffs.items():
        out += [r[0] for r in tx.all(
            "SELECT id FROM orders WHERE shop = ? AND csv_at IS NOT NULL AND mail_at IS NULL "
            "AND csv_at < ? ORDER BY ordered_at, id", shop, cutoff)]
    return out


def order_status(tx: Tx, order_id: int) -> str:
    return tx.value("SELECT status FROM orders WHERE id = ?", order_id, default="")


def order_ref(tx: Tx, order_id: int) -> tuple[str, str]:
    """The shop and order number an order is known by."""
    shop, order_no = tx.one("SELECT shop, order_no FROM orders WHERE id = ?", order_id)
    return shop, order_no


def hold_reason(tx: Tx, shop: str, order_no: str) -> str | None:
    """Why the order is on hold; None when it is not (or not known)."""
    row = tx.one("SELECT status, hold_reason FROM orders WHERE shop = ? AND order_no = ?", shop, order_no)
    return row[1] if row and row[0] == status.HOLD else None
