"""Deleting a product: from the catalog, its channel codes, its stock rows and the stock feeds, when nothing needs it."""
from __future__ import annotations

from dataclasses import dataclass

from tsunagi.common.errors import TsunagiError
from tsunagi.oms import catalog, catalogrules, feedchain, stock
from tsunagi.oms.orders import FINAL
from tsunagi.oms.store import Tx

SHOWN = 5      # open orders named in a refusal; the count says how many more


class ProductInUse(TsunagiError):
    """A product that cannot be deleted now; the message says what still needs it."""


@dataclass(frozen=True)
class Deleted:
    sku: str
    channel_codes: list[str]
    counted_away: list[tuple[str, str, int]]     # (location, lot, on hand) set to 0 by --force


def open_orders(tx: Tx, sku: str) -> list[str]:
    """'shop order_no' of the orders not yet shipped, closed or cancelled with a line or reservation of sku."""
    marks = ", ".join("?" * len(FINAL))
    rows = tx.all(f"SELECT DISTINCT o.shop, o.order_no FROM orders o WHERE o.status NOT IN ({marks}) AND ("
                  "EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.sku = ?) OR "
                  "EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.id AND r.sku = ?)) "
                  "ORDER BY o.shop, o.order_no", *sorted(FINAL), sku, sku)
    return [f"{shop} {order_no}" for shop, order_no in rows]


def _refusal(tx: Tx, sku: str, force: bool) -> str | None:
    """Why the product cannot go now, in one line; None when it can."""
    holders = catalogrules.sets_holding(tx, sku)
    if holders:
        return f"商品 {sku} はセット {', '.join(holders)} の構成品です (先にセットを削除するか構成を変えてください)"
    orders = open_orders(tx, sku)
    if orders:
        more = f" ほか {len(orders) - SHOWN} 件" if len(orders) > SHOWN else ""
        return f"商品 {sku} は未出荷の注文にあります: {', '.join(orders[:SHOWN])}{more}"
    slots = tx.all("SELECT location, lot, on_hand, reserved FROM stock WHERE sku = ? AND (on_hand <> 0 OR reserved <> 0) "
                   "ORDER BY location, lot", sku)
    if any(r[3] for r in slots):
        return f"商品 {sku} には引当があります ({', '.join(f'{r[0]} {r[3]}' for r in slots if r[3])})"
    if slots and not force:
        held = ", ".join(f"{r[0]}{' ロット ' + r[1] if r[1] else ''} {r[2]}" for r in slots)
        return (f"商品 {sku} には在庫があります ({held}): 棚卸で 0 にしてから削除するか、"
                f"在庫ごと消すなら --force")
    return None


def delete_product(tx: Tx, sku: str, force: bool = False) -> Deleted:
    """Remove the product, its set parts, channel codes and stock rows; its codes leave every feed, each
    channel that may hold a figure above 0 for one told 0 first (oms/feedchain.py, outbound/feedgone.py). The
    ledger and shipped orders keep their history.
    Stock still on hand is refused, or with force counted to 0 in the ledger first (cause "delete")."""
    if not catalogrules.is_product(tx, sku):
        twin = catalogrules.case_twin(tx, sku)
        raise ProductInUse(f"商品 {sku} は商品マスタにありません" + (f" ({twin} のことなら {twin} と指定)" if twin else ""))
    problem = _refusal(tx, sku, force)
    if problem:
        raise ProductInUse(problem)
    counted = [(r[0], r[1], r[2]) for r in tx.all(
        "SELECT location, lot, on_hand FROM stock WHERE sku = ? AND on_hand <> 0 ORDER BY location, lot", sku)]
    for location, lot, on_hand in counted:
        stock.move(tx, sku, location, lot, -on_hand, 0, "delete", f"products delete {sku}")
    name = catalog.product_name(tx, sku)
    codes = [r[0] for r in tx.all("SELECT DISTINCT channel_sku FROM channel_skus WHERE sku = ? ORDER BY channel_sku", sku)]
    tx.run("DELETE FROM stock WHERE sku = ?", sku)
    tx.run("DELETE FROM channel_skus WHERE sku = ?", sku)
    tx.run("DELETE FROM set_components WHERE set_sku = ?", sku)
    tx.run("DELETE FROM products WHERE sku = ?", sku)
    feedchain.retire(tx, sku, name, [sku, *codes])
    tx.memo.clear()
    return Deleted(sku, codes, counted)
