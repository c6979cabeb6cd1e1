"""Digests of the CSV rows each order was last applied from: a re-pulled file's unchanged orders cost a lookup."""
from __future__ import annotations

import json

from tsunagi.oms import golive, orders, status
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx

# Outcomes after which the same copy again would still change something (the hold is offered again).
UNSETTLED = frozenset({"mismatch", "conflict"})


# A file's numbers are read as one range of the shop's digests unless the range holds this many times more
# (a file whose numbers spread over years of history): then each number is looked up by itself.
RANGE_SPREAD = 4
BATCH = 20_000


def unchanged(tx: Tx, shop: str, order_nos: list[str], digests: list[str]) -> set[str]:
    """The order numbers whose order was last applied from rows of this very digest and has not been
    touched since (a mail, an edit, a status change, an adoption all move updated_at, and a trigger then
    forgets the digest): applying the same copy again would find it unchanged, so it need not be made."""
    if not order_nos:
        return set()
    wanted = dict(zip(order_nos, digests))
    rows = tx.run("SELECT order_no, digest FROM order_csv_digests WHERE shop = ? AND order_no BETWEEN ? AND ?",
                  shop, min(wanted), max(wanted))
    same, read = set(), 0
    while batch := rows.fetchmany(BATCH):
        same.update(order_no for order_no, digest in batch if wanted.get(order_no) == digest)
        read += len(batch)
        if read > RANGE_SPREAD * len(wanted) + BATCH:
            rows.close()
            return _probed(tx, shop, order_nos, wanted)
    return same


def _probed(tx: Tx, shop: str, order_nos: list[str], wanted: dict[str, str]) -> set[str]:
    # the numbers drive the join (CROSS JOIN keeps them outermost): one probe of the primary key each
    rows = tx.all("SELECT d.order_no, d.digest FROM json_each(?) n CROSS JOIN order_csv_digests d "
                  "WHERE d.shop = ? AND d.order_no = n.value", json.dumps(order_nos, ensure_ascii=False), shop)
    return {order_no for order_no, digest in rows if wanted.get(order_no) == digest}


def apply_order(tx: Tx, rec: OrderRecord, digest: str | None) -> str:
    """golive.apply_order (orders.apply_order unless the channel has handled the order), then the digest remembered when the same copy again would be unchanged."""
    outcome = golive.apply_order(tx, rec)
    current = tx.value("SELECT status FROM orders WHERE shop = ? AND order_no = ?", rec.shop, rec.order_no)
    # a channel's cancel of an order that shipped is answered "updated" every time: never settled
    cancel_refused = rec.channel_status == orders.CANCELLED_AT_CHANNEL and current != status.CANCELLED
    if digest and outcome not in UNSETTLED and not cancel_refused:
        tx.run("INSERT OR REPLACE INTO order_csv_digests (shop, order_no, digest) VALUES (?, ?, ?)",
               rec.shop, rec.order_no, digest)
    else:
        tx.run("DELETE FROM order_csv_digests WHERE shop = ? AND order_no = ?", rec.shop, rec.order_no)
    return outcome
