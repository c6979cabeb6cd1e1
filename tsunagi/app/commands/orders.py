"""Commands for orders: list, show one, correct its buyer or recipient, release a hold."""
from __future__ import annotations

from datetime import timedelta

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.common import clock
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import orders, queries, status


def register(sub) -> None:
    o = sub.add_parser("orders", help="list orders")
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
    cfg = base.config(args)
    tx = base.reader(cfg).read()
    code = status.parse(args.status) if args.status else None
    ids = _gap_ids(cfg, tx, args) if args.unconfirmed or args.mail_missing else queries.order_ids(tx, code, args.shop)
    views = [v for v in (queries.order_view(tx, i) for i in ids) if not code or v["status"] == code]
    return base.show(args, views, "orders", lambda v: (
        f"{v['shop']:<10} {v['order_no']:<28} {v['status_label']:<6} {v['ordered_at'][:16]} "
        f"{v['total']:>9,}円 {v['ship_to'].get('name', '')}" + (f"  [{v['hold_reason']}]" if v["hold_reason"] else "")))


def cmd_order(args) -> int:
    store = base.reader(base.config(args))
    v = queries.order_view(store.read(), base.order_id(store, args.shop, args.order_no), history=True)
    if args.json:
        base.print_json(v)
        return 0
    st = v["ship_to"]
    print(f"{v['shop']} {v['order_no']}  {v['status_label']} ({v['status']})  {v['ordered_at']}")
    if v["hold_reason"]:
        print(f"保留理由: {v['hold_reason']}")
    print(f"お届け先: {st.get('name')} 〒{st.get('postal_code')} {st.get('prefecture')}{st.get('address')} "
          f"TEL {st.get('phone')}")
    print(f"支払: {v['payment_method']}  配送: {v['delivery_method']}  "
          f"指定: {v['requested_date'] or '-'} {v['requested_time']}")
    for line in v["lines"]:
        print(f"  {line['channel_sku']:<16} {line['name'][:30]:<30} {line['qty']:>3} × {line['unit_price']:,}円")
    for sh in v["shipments"]:
        print(f"出荷 {sh['key']} {sh['carrier']} {sh['state']} {sh['tracking'] or '-'} {sh['ship_date']} {sh['file']}")
    print(f"送料 {v['shipping_fee']:,}円  代引料 {v['cod_fee']:,}円  値引 {v['discount']:,}円  合計 {v['total']:,}円")
    for h in v["history"]:
        print(f"  {h['at'][:19]} {status.label(h['from']) or '-'} → {status.label(h['to'])} {h['note']}")
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
        placed = orders.release(tx, order_id)
    wiring.ready_orders(cfg, store, args.shop)
    print(f"{args.order_no}: {status.label(placed)} → {status.label(queries.order_status(store.read(), order_id))}")
    return 0
