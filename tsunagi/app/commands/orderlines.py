"""The order-lines command: a person changes an order's lines (quantity, price, add, remove)."""
from __future__ import annotations

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.app.commands.orders import operator
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool
from tsunagi.oms import editlines, queries, status
from tsunagi.oms.editlines import Changed

USAGE = "write set N qty=Q [price=P], add SKU QTY PRICE or remove N"
LARGEST = 999_999_999          # more than any quantity, price or line number a shop types


def register(sub) -> None:
    ol = sub.add_parser("order-lines", help="change an order's lines: set N qty=Q [price=P] | add SKU QTY PRICE | "
                                            "remove N (totals, stock, feeds and labels follow)")
    ol.add_argument("shop")
    ol.add_argument("order_no")
    ol.add_argument("action", choices=("set", "add", "remove"))
    ol.add_argument("values", nargs="+", metavar="VALUE")
    ol.set_defaults(func=cmd_order_lines)


def whole(text: str, what: str) -> int:
    """A whole number the operator typed, or a one-line refusal naming it."""
    try:
        number = int(text.replace(",", ""))
    except ValueError:
        raise TsunagiError(f"{what} must be a whole number, not {text!r}") from None
    if abs(number) > LARGEST:      # a slipped key: the store would refuse it with a traceback past 2**63
        raise TsunagiError(f"{what} {text} is too large (at most {LARGEST:,})")
    return number


def _set_args(values: list[str]) -> tuple[int, int, int | None]:
    pairs = dict(v.split("=", 1) for v in values[1:] if "=" in v)
    if len(pairs) != len(values) - 1 or "qty" not in pairs or set(pairs) - {"qty", "price"}:
        raise TsunagiError(f"set takes a line number and qty=Q [price=P] ({USAGE})")
    price = whole(pairs["price"], "price") if "price" in pairs else None
    return whole(values[0], "the line number"), whole(pairs["qty"], "qty"), price


def cmd_order_lines(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    values, by = args.values, operator()
    counts = {"set": (2, 3), "add": (3, 3), "remove": (1, 1)}[args.action]
    if not counts[0] <= len(values) <= counts[1]:
        raise TsunagiError(f"{args.action}: wrong number of values ({USAGE})")
    with store.transaction() as tx:
        before = queries.order_status(tx, order_id)
        if args.action == "set":
            changed = editlines.set_line(tx, order_id, *_set_args(values), by=by)
        elif args.action == "add":
            changed = editlines.add_line(tx, order_id, values[0], whole(values[1], "QTY"), whole(values[2], "PRICE"),
                                         by=by)
        else:
            changed = editlines.remove_line(tx, order_id, whole(values[0], "the line number"), by=by)
    after(cfg, store, args, order_id, before, changed)
    return 0


def after(cfg, store, args, order_id: int, before: str, changed: Changed) -> None:
    """What follows a change, said to the operator: ready again where the mapping allows, the feeds, the labels."""
    wiring.ready_orders(cfg, store, args.shop)
    now = queries.order_status(store.read(), order_id)
    print(f"{args.order_no}: {status.label(before)} → {status.label(now)}  合計 {changed.total:,}円")
    for key, file in changed.voided:
        print(f"  送り状 {key} ({file}) を無効にしました: 印刷済みなら破棄してください (次の tsunagi ship export で出し直し)")
    if changed.warehouse:
        print(f"  倉庫 {changed.warehouse} にキャンセルを送ります (次の tsunagi wms send {changed.warehouse}); "
              f"在庫は倉庫のキャンセル報告まで引当のままです")
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)
