"""Which confirmation rows an order made from orders gives (NextEngine's Amazon manual): a split order once,
under the original number, when every part has shipped; a merge's absorbed orders with the surviving parcel's
tracking; a re-shipment copy none."""
from __future__ import annotations

from typing import Callable

from tsunagi.oms import queries, relations, shipping, status
from tsunagi.oms.readmodel import Order, each_order
from tsunagi.oms.store import Tx

Row = dict[str, str]


def rows(tx: Tx, order: Order, make_row: Callable[[Order], Row]) -> list[tuple[int, Row]]:
    """(order id, row) of each confirmation this shipped order gives; [] while it gives none."""
    if relations.is_copy(tx, order.id):
        return []                 # a re-shipment: the channel knows the original order only
    root = relations.parent(tx, order.id, relations.SPLIT) or order.id
    parts = relations.children(tx, root, relations.SPLIT)
    if parts:
        return _split(tx, [root, *parts], make_row)
    row = make_row(order)
    absorbed = [(child, queries.order_ref(tx, child)[1]) for child in relations.children(tx, order.id, relations.MERGE)]
    return [(order.id, row)] + [(child, {**row, "order_no": order_no}) for child, order_no in absorbed]


def _split(tx: Tx, family: list[int], make_row: Callable[[Order], Row]) -> list[tuple[int, Row]]:
    """The original's row once every part has shipped with tracking: its number, its first tracking number
    where the channel takes one, and every part's numbers after it."""
    numbers: list[str] = []
    for order_id in family:
        if order_id != family[0] and queries.order_status(tx, order_id) == status.CANCELLED:
            continue             # a part cancelled will never ship: the others are the whole shipment
        own = shipping.tracking_of(tx, order_id)[0]
        if not own:
            return []            # a part not shipped yet: the channel hears when the last one ships
        numbers += [n for n in own if n not in numbers]
    [original] = each_order(tx, family[:1])
    row = make_row(original)
    return [(family[0], {**row, "tracking": numbers[0], "tracking_all": ",".join(numbers),
                         "tracking2": numbers[1] if len(numbers) > 1 else ""})]


def to_close(tx: Tx, ids: list[int]) -> list[int]:
    """The orders the pass closes (請求済): a split's parts stay 出荷確定済 until the original's confirmation is
    written, then all of them close together."""
    out: list[int] = []
    for order_id in ids:
        root = relations.parent(tx, order_id, relations.SPLIT) or order_id
        parts = relations.children(tx, root, relations.SPLIT)
        if not parts:
            out.append(order_id)
        elif relations.confirmed(tx, root):
            out += [i for i in (root, *parts) if i not in out]
    return out
