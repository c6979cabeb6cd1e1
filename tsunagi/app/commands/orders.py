"""Commands for orders: list, show one, correct its buyer or recipient, release a hold, adopt another version."""
from __future__ import annotations

import getpass
import os
from datetime import timedelta

from tsunagi.app import wiring
from tsunagi.app.commands import base, golive
from tsunagi.common import clock
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool
from tsunagi.oms import adopt, orders, queries, status
from tsunagi.oms.readmodel import load_order


def register(sub) -> None:
    o = sub.add_parser("orders", help="list orders; orders close-before DATE [--shop S] closes older open "
                                      "orders as handled in the cart (go-live: no stock, label or mail)")
    o.add_argument("action", nargs="?", choices=["close-before"])
    o.add_argument("date", nargs="?")
    o.add_argument("--status")
    o.add_argument("--shop")
    o.add_argument("--json", action="store_true")
    gap = o.add_mutually_exclusive_group()
    gap.add_argument("--unconfirmed", action="store_true", help="came by mail, no order CSV within the set time")
    gap.add_argument("--mail-missing", action="store_true", help="came by order CSV, no order mail")
    o.set_defaults(func=cmd_orders)
    one = sub.add_parser("order", help="show one order")
    one.add_argument("shop")
    one.add_argument("order_no")
    one.add_argument("--json", action="store_true")
    one.set_defaults(func=cmd_order)
    oe = sub.add_parser("order-set", help="correct an order's buyer or recipient: ship_to.name=… ship_to.address=…")
    oe.add_argument("shop")
    oe.add_argument("order_no")
    oe.add_argument("changes", nargs="+")
    oe.set_defaults(func=cmd_order_set)
    orl = sub.add_parser("order-release", help="lift a hold after fixing its cause: the order is placed again")
    orl.add_argument("shop")
    orl.add_argument("order_no")
    orl.set_defaults(func=cmd_order_release)
    oad = sub.add_parser("order-adopt", help="take the channel's latest version of a held order (lines, quantities, "
                                             "amounts) and reserve again")
    oad.add_argument("shop")
    oad.add_argument("order_no")
    oad.set_defaults(func=cmd_order_adopt)


def _gap_ids(cfg, tx, args) -> list[int]:
    """Orders missing their other half: mail with no order CSV yet, or order CSV with no mail."""
    now = clock.now()
    shops = [s for s in cfg.shops if not args.shop or s.id == args.shop]
    if args.unconfirmed:
        cutoffs = {s.id: (now - timedelta(hours=s.order_csv.confirm_within_hours)).isoformat()
                   for s in shops if s.order_csv}
        return queries.unconfirmed(tx, cutoffs)
    cutoffs = {s.id: (now - timedelta(minutes=cfg.mail_within_minutes)).isoformat() for s in shops if s.order_mail_to}
    return queries.mail_missing(tx, cutoffs)


def cmd_orders(args) -> int:
    if args.action == "close-before":
        return golive.cmd_close_before(args, operator())
    cfg = base.config(args)
    tx = base.reader(cfg).read()
    code = status.parse(args.status) if args.status else None
    ids = _gap_ids(cfg, tx, args) if args.unconfirmed or args.mail_missing else queries.order_ids(tx, code, args.shop)
    views = [o.as_dict() for o in (load_order(tx, i) for i in ids) if not code or o.status == code]
    return base.show(args, views, "orders", lambda v: (
        f"{v['shop']:<10} {v['order_no']:<28} {v['status_label']:<6} {v['ordered_at'][:16]} "
        f"{v['total']:>9,}円 {v['ship_to'].get('name', '')}" + (f"  [{v['hold_reason']}]" if v["hold_reason"] else "")))


def cmd_order(args) -> int:
    store = base.reader(base.config(args))
    o = load_order(store.read(), base.order_id(store, args.shop, args.order_no), history=True)
    if args.json:
        base.print_json(o.as_dict())
        return 0
    st = o.ship_to
    print(f"{o.shop} {o.order_no}  {o.status_label} ({o.status})  {o.ordered_at.isoformat()}")
    if o.hold_reason:
        print(f"保留理由: {o.hold_reason}")
    print(f"お届け先: {st.name} 〒{st.postal_code} {st.prefecture}{st.address} TEL {st.phone}")
    for n, who in enumerate(o.more_ship_to, 2):      # 複数送付先: tsunagi order-ship-to shows and changes them
        print(f"送付先{n}: {who.name} 〒{who.postal_code} {who.prefecture}{who.address} TEL {who.phone}")
    print(f"支払: {o.payment_method}  配送: {o.delivery_method}  "
          f"指定: {o.requested_date or '-'} {o.requested_time}")
    for n, line in enumerate(o.lines, 1):      # numbered as order-lines and order-cancel --line take them
        print(f"  {n:>2}. {line.channel_sku:<16} {line.name[:30]:<30} {line.qty:>3} × {line.unit_price:,}円"
              + (f"  → 送付先{line.recipient}" if o.more_ship_to else ""))
    for sh in o.shipments:
        print(f"出荷 {sh.key} {sh.carrier} {sh.state} {sh.tracking or '-'} {sh.ship_date} {sh.file}")
    print(f"送料 {o.shipping_fee:,}円  代引料 {o.cod_fee:,}円  値引 {o.discount:,}円  合計 {o.total:,}円")
    for h in o.history:
        print(f"  {h.at[:19]} {status.label(h.from_status) or '-'} → {status.label(h.to_status)} {h.note}")
    return 0


def cmd_order_set(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    changes = dict(pair.split("=", 1) for pair in args.changes if "=" in pair)
    if len(changes) != len(args.changes):
        raise TsunagiError("write each change as field=value, e.g. ship_to.name=\"高橋 花子\"")
    with store.transaction() as tx:
        orders.edit(tx, order_id, changes)
    print(f"{args.order_no}: {', '.join(changes)} updated")
    return 0


def cmd_order_release(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        placed = orders.release(tx, order_id, operator())
    wiring.ready_orders(cfg, store, args.shop)
    print(f"{args.order_no}: {status.label(placed)} → {status.label(queries.order_status(store.read(), order_id))}")
    return 0


def cmd_order_adopt(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        placed = adopt.adopt(tx, order_id, operator())
    wiring.ready_orders(cfg, store, args.shop)
    print(f"{args.order_no}: adopted the other version; {status.label(placed)} → "
          f"{status.label(queries.order_status(store.read(), order_id))}")
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)
    return 0


def operator() -> str:
    """Who runs the command: the OS user, recorded with decisions in an order's history."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):      # no name for this uid (a container)
        return f"uid {os.getuid()}"
