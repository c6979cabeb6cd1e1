"""Commands for payments: confirm one by hand, import a bank or settlement file, list what did not match."""
from __future__ import annotations

from pathlib import Path

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.app.commands.orderlines import whole
from tsunagi.app.commands.orders import operator
from tsunagi.common import clock
from tsunagi.common import japanese as jp
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool
from tsunagi.oms import payments, status
from tsunagi.parsers import paymentfile


def register(sub) -> None:
    p = sub.add_parser("payment", help="入金: confirm, import a bank statement or settlement file, list unmatched")
    ps = p.add_subparsers(dest="payment_command", required=True)
    c = ps.add_parser("confirm", help="confirm a 入金待ち order's payment: it moves on to 印刷待ち")
    c.add_argument("shop")
    c.add_argument("order_no")
    c.add_argument("--amount", help="the amount paid (default: what the order owes)")
    c.add_argument("--date", help="the day it was paid")
    c.set_defaults(func=cmd_confirm)
    i = ps.add_parser("import", help="match a payment file's rows to 入金待ち orders")
    i.add_argument("file")
    i.add_argument("--layout", default="generic", help=f"one of {', '.join(paymentfile.names())}")
    i.set_defaults(func=cmd_import)
    u = ps.add_parser("unmatched", help="partial, over, unmatched and ambiguous payments")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_unmatched)
    o = ps.add_parser("overdue", help="cancel now what shipping.unpaid_cancel_days would (the daemon does it too)")
    o.set_defaults(func=cmd_overdue)


def cmd_confirm(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    paid_on = _date(args.date)
    amount = None if args.amount is None else whole(args.amount, "--amount")
    with store.transaction() as tx:
        to = payments.confirm(tx, order_id, amount, paid_on, operator())
    wiring.after_apply(cfg, store)
    print(f"{args.order_no}: 入金確認 → {status.label(to)}")
    return 0


def _date(text: str | None):
    if not text:
        return clock.today()
    try:
        return jp.parse_date(text)
    except ValueError:
        raise TsunagiError(f"--date {text!r}: give a date such as 2026-06-15") from None


def cmd_import(args) -> int:
    cfg = base.config(args)
    layout = paymentfile.load(args.layout)
    path = Path(base.input_file(args.file))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TsunagiError(f"{args.file}: {exc.strerror}") from None
    records, problems = paymentfile.read(data, layout)
    store = base.writer(cfg)
    with store.transaction() as tx:
        outcomes = payments.apply_file(tx, records, f"{args.layout}:{path.name}", operator())
    wiring.after_apply(cfg, store)
    for o in outcomes:
        if o.state not in ("confirmed", "seen"):
            print(f"行 {o.row}: {o.message}")
    for line in problems:
        base.stderr(line)
    counts = {s: sum(o.state == s for o in outcomes) for s in ("confirmed", "over", "partial", "unmatched",
                                                               "ambiguous", "seen")}
    print(", ".join(f"{s} {n}" for s, n in counts.items()) + f", refused {len(problems)}")
    return 2 if problems else 0


def cmd_unmatched(args) -> int:
    cfg = base.config(args)
    rows = payments.unmatched(base.reader(cfg).read())
    return base.show(args, rows, "payments", lambda r: (
        f"{r['paid_on']}  {r['amount']:>10,}円  {r['state']:<9}  {r['payer']}  {r['reference']}  "
        f"{r['shop']} {r['order_no']}  {r['note']}".rstrip()))


def cmd_overdue(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    done = wiring.cancel_unpaid(cfg, store)
    for line in done:
        print(f"{line}: 入金期限切れでキャンセル")
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)
    print(f"({len(done)} cancelled)")
    return 0
