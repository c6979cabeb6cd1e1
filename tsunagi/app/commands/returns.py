"""The order-unship and order-return commands: 出荷確定戻し, and returned units (and refunds) taken back."""
from __future__ import annotations

from tsunagi.app.commands import base
from tsunagi.app.commands.orderlines import whole
from tsunagi.app.commands.orders import operator
from tsunagi.ingest.spool import Spool
from tsunagi.oms import queries, returns, status, unship


def register(sub) -> None:
    us = sub.add_parser("order-unship", help="出荷確定戻し: a shipped order back to 印刷待ち, its units back in stock "
                                             "and reserved, its parcel cancelled; confirmed again when it ships again")
    us.add_argument("shop")
    us.add_argument("order_no")
    us.set_defaults(func=cmd_order_unship)
    rt = sub.add_parser("order-return", help="返品: returned units of a shipped order back in stock (damaged ones "
                                             "where nothing is sold), a refund recorded for ship mismatch")
    rt.add_argument("shop")
    rt.add_argument("order_no")
    rt.add_argument("--line", metavar="N", help="only line N (default: every line)")
    rt.add_argument("--qty", metavar="Q", help="units of the line (default: all shipped and not yet "
                                                         "returned; 0 with --refund: a refund alone)")
    rt.add_argument("--to", default="", metavar="LOCATION", help="where good units go (default: where they shipped from)")
    rt.add_argument("--damaged", action="store_true", help="the units go to returns.damaged_location (never sold)")
    rt.add_argument("--refund", metavar="AMOUNT", help="yen refunded to the buyer")
    rt.set_defaults(func=cmd_order_return)


def cmd_order_unship(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        before = queries.order_status(tx, order_id)
        keys = unship.unship(tx, order_id, operator())
    print(f"{args.order_no}: {status.label(before)} → {status.label(status.READY)}  送り状 {', '.join(keys) or '-'} "
          f"を取消 (次の tsunagi ship export で出し直し、出荷後に出荷通知を再送)")
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)
    return 0


def cmd_order_return(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    line = None if args.line is None else whole(args.line, "--line")
    qty = None if args.qty is None else whole(args.qty, "--qty")
    refund = 0 if args.refund is None else whole(args.refund, "--refund")
    with store.transaction() as tx:
        done = returns.take_back(tx, order_id, line, qty, args.to, cfg.damaged_location if args.damaged else "",
                                 refund, operator())
    print(f"{args.order_no}: 返品 {done.units} 点 → {done.location or '-'}" + (f"  返金累計 {done.refunded:,}円"
                                                                            if done.refunded else ""))
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)
    return 0
