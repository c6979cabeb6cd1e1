"""The order-split, order-merge and order-copy commands: orders made from orders by a person."""
from __future__ import annotations

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.app.commands.orderlines import after, whole
from tsunagi.app.commands.orders import operator
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool
from tsunagi.oms import copies, merge, queries, split, status


def register(sub) -> None:
    sp = sub.add_parser("order-split", help="move lines to a new order ORDER_NO-bk-N that ships on its own")
    sp.add_argument("shop")
    sp.add_argument("order_no")
    sp.add_argument("--lines", required=True, metavar="N,N…", help="the lines to move (see tsunagi order SHOP ORDER_NO)")
    sp.set_defaults(func=cmd_order_split)
    mg = sub.add_parser("order-merge", help="ship one buyer's orders as one (同梱): the others are cancelled by the "
                                           "merge, their lines and stock moved to the first")
    mg.add_argument("shop")
    mg.add_argument("order_no", help="the order that ships (survives)")
    mg.add_argument("others", nargs="+", metavar="ORDER_NO", help="the orders it absorbs")
    mg.set_defaults(func=cmd_order_merge)
    cp = sub.add_parser("order-copy", help="copy an order for a re-shipment (ORDER_NO-cp-N): stock reserved as for a "
                                          "new order, never confirmed to the channel, never mailed")
    cp.add_argument("shop")
    cp.add_argument("order_no")
    cp.set_defaults(func=cmd_order_copy)


def is_amazon(cfg, shop: str) -> bool:
    """Whether the shop sells on Amazon (its cart, or its confirmation layout, says so)."""
    found = cfg.shop(shop)
    layout = found.shipping.confirm_layout if found.shipping else ""
    return found.cart.startswith("amazon") or str(layout).startswith("amazon")


def pay_kinds(cfg, shop: str) -> dict[str, str]:
    """The shop's payment names → prepaid, cod, postpay or pay_first (the carts' common names included)."""
    rules = wiring.shipping_rules(cfg).shops.get(shop)
    return rules.payment if rules else {}


def cmd_order_split(args) -> int:
    cfg = base.config(args)
    numbers = [whole(n, "--lines") for n in args.lines.split(",") if n.strip()]
    if not numbers:
        raise TsunagiError("--lines takes line numbers, e.g. --lines 2,3")
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        before = queries.order_status(tx, order_id)
        new_no, changed = split.split(tx, order_id, numbers, operator(), is_amazon(cfg, args.shop),
                                      pay_kinds(cfg, args.shop))
    after(cfg, store, args, order_id, before, changed)
    print(f"  分割: {new_no} (別の送り状で出荷)")
    return 0


def _absorbed_id(cfg, store, shop: str, order_no: str) -> int:
    """An order to absorb, in the shop; one of another shop is named as such."""
    try:
        return base.order_id(store, shop, order_no)
    except TsunagiError:
        for other in cfg.shops:
            if other.id != shop and queries.find_order(store.read(), other.id, order_no) is not None:
                raise TsunagiError(f"{order_no} is an order of shop {other.id}, not {shop}: orders of different "
                                   f"shops are never merged") from None
        raise


def cmd_order_merge(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    survivor = base.order_id(store, args.shop, args.order_no)
    absorbed = [_absorbed_id(cfg, store, args.shop, n) for n in args.others]
    with store.transaction() as tx:
        before = queries.order_status(tx, survivor)
        changed = merge.merge(tx, survivor, absorbed, operator())
    after(cfg, store, args, survivor, before, changed)
    print(f"  同梱: {', '.join(args.others)} → {args.order_no} (キャンセル: 同梱)")
    return 0


def cmd_order_copy(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        new_no, _ = copies.copy_order(tx, order_id, operator())
    wiring.ready_orders(cfg, store, args.shop)
    new_id = base.order_id(store, args.shop, new_no)
    print(f"{new_no}: {args.order_no} のコピー (再送用) {status.label(queries.order_status(store.read(), new_id))}")
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)
    return 0
