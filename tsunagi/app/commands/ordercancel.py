"""The order-cancel command: a person cancels an order, or one of its lines."""
from __future__ import annotations

from tsunagi.app.commands import base
from tsunagi.app.commands.orderlines import after, whole
from tsunagi.app.commands.orders import operator
from tsunagi.oms import cancel, queries


def register(sub) -> None:
    oc = sub.add_parser("order-cancel", help="cancel an order (or one line): stock released, a written label voided, "
                                             "the warehouse told, no later buyer mail")
    oc.add_argument("shop")
    oc.add_argument("order_no")
    oc.add_argument("--line", type=str, metavar="N", help="cancel only line N (see tsunagi order SHOP ORDER_NO)")
    oc.add_argument("--reason", default="", help="why, for the order's history")
    oc.set_defaults(func=cmd_order_cancel)


def cmd_order_cancel(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        before = queries.order_status(tx, order_id)
        if args.line is None:
            changed = cancel.cancel_order(tx, order_id, operator(), args.reason)
        else:
            changed = cancel.cancel_line(tx, order_id, whole(args.line, "--line"), operator(), args.reason)
    after(cfg, store, args, order_id, before, changed)
    return 0
