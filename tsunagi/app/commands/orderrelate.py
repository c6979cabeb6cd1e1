"""The order-split, order-merge and order-copy commands: orders made from orders by a person."""
from __future__ import annotations

from tsunagi.app.commands import base
from tsunagi.app.commands.orderlines import after, whole
from tsunagi.app.commands.orders import operator
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import queries, split


def register(sub) -> None:
    sp = sub.add_parser("order-split", help="move lines to a new order ORDER_NO-bk-N that ships on its own")
    sp.add_argument("shop")
    sp.add_argument("order_no")
    sp.add_argument("--lines", required=True, metavar="N,N…", help="the lines to move (see tsunagi order SHOP ORDER_NO)")
    sp.set_defaults(func=cmd_order_split)


def is_amazon(cfg, shop: str) -> bool:
    """Whether the shop sells on Amazon (its cart, or its confirmation layout, says so)."""
    found = cfg.shop(shop)
    layout = found.shipping.confirm_layout if found.shipping else ""
    return found.cart.startswith("amazon") or str(layout).startswith("amazon")


def cmd_order_split(args) -> int:
    cfg = base.config(args)
    numbers = [whole(n, "--lines") for n in args.lines.split(",") if n.strip()]
    if not numbers:
        raise TsunagiError("--lines takes line numbers, e.g. --lines 2,3")
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        before = queries.order_status(tx, order_id)
        new_no, changed = split.split(tx, order_id, numbers, operator(), is_amazon(cfg, args.shop))
    after(cfg, store, args, order_id, before, changed)
    print(f"  分割: {new_no} (別の送り状で出荷)")
    return 0
