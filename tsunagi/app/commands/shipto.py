"""The order-ship-to command: an order's recipients (複数送付先), and which line goes to which."""
from __future__ import annotations

from tsunagi.app.commands import base
from tsunagi.app.commands.orderlines import after, whole
from tsunagi.app.commands.orders import operator
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import queries, recipients
from tsunagi.oms.readmodel import load_order

USAGE = ("show | add name=… postal_code=… address=… [phone=…] [--lines 2,3] | assign LINE=N … | "
         "set N field=value … | remove N")


def register(sub) -> None:
    st = sub.add_parser("order-ship-to", help="an order's recipients (複数送付先), each its own parcel: " + USAGE)
    st.add_argument("shop")
    st.add_argument("order_no")
    st.add_argument("action", nargs="?", default="show", choices=("show", "add", "assign", "set", "remove"))
    st.add_argument("values", nargs="*", metavar="VALUE")
    st.add_argument("--lines", default="", help="with add: the lines that go to the new recipient (e.g. 2,3)")
    st.set_defaults(func=cmd_order_ship_to)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = dict(v.split("=", 1) for v in values if "=" in v)
    if len(pairs) != len(values) or not pairs:
        raise TsunagiError(f"{what}: write each value as key=value ({USAGE})")
    return pairs


def _numbers(text: str) -> list[int]:
    return [whole(n, "a line number") for n in text.split(",") if n.strip()]


def cmd_order_ship_to(args) -> int:
    cfg = base.config(args)
    if args.action == "show":
        return _show(cfg, args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    values, by = args.values, operator()
    if args.lines and args.action != "add":
        raise TsunagiError(f"--lines goes with add only ({USAGE})")
    if args.action in ("set", "remove") and not values:
        raise TsunagiError(f"{args.action} takes the recipient's number ({USAGE})")
    with store.transaction() as tx:
        before = queries.order_status(tx, order_id)
        if args.action == "add":
            n, changed = recipients.add(tx, order_id, _pairs(values, "add"), _numbers(args.lines), by)
            print(f"{args.order_no}: 送付先{n}を追加しました")
        elif args.action == "assign":
            pairs = {whole(k, "a line number"): whole(v, "a recipient number")
                     for k, v in _pairs(values, "assign").items()}
            changed = recipients.assign(tx, order_id, pairs, by)
        elif args.action == "set":
            changed = recipients.correct(tx, order_id, whole(values[0], "the recipient number"),
                                         _pairs(values[1:], "set"), by)
        else:
            if len(values) != 1:
                raise TsunagiError(f"remove takes one recipient number ({USAGE})")
            changed = recipients.remove(tx, order_id, whole(values[0], "the recipient number"), by)
    after(cfg, store, args, order_id, before, changed)
    return 0


def _show(cfg, args) -> int:
    if args.values or args.lines:
        raise TsunagiError(f"show takes no values ({USAGE})")
    store = base.reader(cfg)
    o = load_order(store.read(), base.order_id(store, args.shop, args.order_no))
    for n, who in enumerate(o.recipients, 1):
        print(f"送付先{n}: {who.name} 〒{who.postal_code} {who.prefecture}{who.address} TEL {who.phone}")
        for no, line in enumerate(o.lines, 1):
            if line.recipient == n:
                print(f"  {no:>2}. {line.channel_sku:<16} {line.name[:30]:<30} {line.qty:>3}")
    return 0
