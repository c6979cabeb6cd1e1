"""Digests of the CSV rows each order was last applied from: a re-pulled file's unchanged orders cost a lookup."""
from __future__ import annotations

import json

from tsunagi.oms import golive, orders, status
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx

# Outcomes after which the same copy again would still change something (the hold is offered again).
UNSETTLED = frozenset({"mismatch", "conflict"})


def unchanged(tx: Tx, shop: str, order_nos: list[str], digests: list[str]) -> set[str]:
    """The order numbers whose order was last applied from rows of this very digest and has not been
    touched since (a mail, an edit, a status change, an adoption all move updated_at): applying the same
    copy again would find it unchanged, so it need not be made."""
    if not order_nos:
        return set()
    wanted = dict(zip(order_nos, digests))
    # the numbers drive the join (CROSS JOIN keeps them outermost): one index probe each
    rows = tx.all("SELECT o.order_no, d.digest FROM json_each(?) n CROSS JOIN orders o "
                  "JOIN order_csv_digests d ON d.order_id = o.id AND d.stamp = o.updated_at "
                  "WHERE o.shop = ? AND o.order_no = n.value",
                  json.dumps(order_nos, ensure_ascii=False), shop)
    return {order_no for order_no, digest in rows if wanted.get(order_no) == digest}


def apply_order(tx: Tx, rec: OrderRecord, digest: str | None) -> str:
    """golive.apply_order (orders.apply_order unless the channel has handled the order), then the digest remembered when the same copy again would be unchanged."""
    outcome = golive.apply_order(tx, rec)
    order_id, current, stamp = tx.one("SELECT id, status, updated_at FROM orders WHERE shop = ? AND order_no = ?",
                                      rec.shop, rec.order_no)
    # a channel's cancel of an order that shipped is answered "updated" every time: never settled
    cancel_refused = rec.channel_status == orders.CANCELLED_AT_CHANNEL and current != status.CANCELLED
    if digest and outcome not in UNSETTLED and not cancel_refused:
        tx.run("INSERT INTO order_csv_digests (order_id, digest, stamp) VALUES (?, ?, ?) "
               "ON CONFLICT (order_id) DO UPDATE SET digest = excluded.digest, stamp = excluded.stamp",
               order_id, digest, stamp)
    else:
        tx.run("DELETE FROM order_csv_digests WHERE order_id = ?", order_id)
    return outcome
