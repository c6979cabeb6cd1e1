"""Commands for buyer mails: preview a stage for an order, the mail log, resend on purpose."""
from __future__ import annotations

from datetime import datetime

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.common.clock import JST, timestamp
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import mailcontents, outbound_tables, queries
from tsunagi.outbound.mailtemplates import STAGE_LABELS, STAGES


def register(sub) -> None:
    ml = sub.add_parser("mail", help="buyer mails").add_subparsers(dest="sub", required=True)
    mp = ml.add_parser("preview", help="print a stage's mail for an order, rendered")
    mp.add_argument("shop")
    mp.add_argument("order_no")
    mp.add_argument("stage", help="purchase, shipment, post_purchase or payment_reminder")
    mp.set_defaults(func=cmd_mail_preview)
    mlog = ml.add_parser("log", help="mails sent, waiting, failed or uncertain")
    mlog.add_argument("--shop")
    mlog.add_argument("--order")
    mlog.add_argument("--uncertain", action="store_true", help="only those a crash left undecided")
    mlog.add_argument("--json", action="store_true")
    mlog.set_defaults(func=cmd_mail_log)
    ms = ml.add_parser("show", help="print a mail as it was handed to the relay (its id: mail log)")
    ms.add_argument("mail_id", type=int)
    ms.set_defaults(func=cmd_mail_show)
    mr = ml.add_parser("resend", help="send one mail again on purpose (recorded as a resend)")
    mr.add_argument("shop")
    mr.add_argument("order_no")
    mr.add_argument("stage")
    mr.add_argument("--to", help="another address (the buyer's was wrong)")
    mr.set_defaults(func=cmd_mail_resend)
    mt = ml.add_parser("retry", help="queue failed mails again, each once (after a long relay outage)")
    mt.add_argument("--failed", action="store_true", required=True, help="the mails that are failed")
    mt.add_argument("--shop")
    mt.add_argument("--since", help="only those that failed on or after this date (YYYY-MM-DD, JST) or time")
    mt.set_defaults(func=cmd_mail_retry)


def _stage(name: str) -> str:
    if name not in STAGES:
        raise TsunagiError(f"stage {name!r}: use one of {', '.join(STAGES)}")
    return name


def cmd_mail_preview(args) -> int:
    cfg = base.config(args)
    shop = cfg.shop(args.shop)
    store = base.reader(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    context = wiring.context_source(cfg).context(store.read(), order_id, _stage(args.stage))
    rendered = wiring.templates_for(shop).render(args.stage, context)
    sender = shop.mail
    print(f"From: {sender.sender_name if sender else shop.name} <{sender.sender if sender else '-'}>")
    print(f"To: {context['buyer'].get('email') or '(no address)'}")
    print(f"Subject: {rendered.subject}\n")
    print(rendered.text, end="" if rendered.text.endswith("\n") else "\n")
    if rendered.html is not None:
        print(f"\n--- HTML part ({len(rendered.html)} characters) ---\n{rendered.html}")
    return 0


def cmd_mail_log(args) -> int:
    cfg = base.config(args)
    tx = base.reader(cfg).read()
    order_id = queries.find_order(tx, args.shop, args.order) if args.order and args.shop else None
    if args.order and order_id is None:
        raise TsunagiError(f"no order {args.order} in shop {args.shop} (give --shop with --order)")
    rows = outbound_tables.mail_log(tx, args.shop, order_id, "uncertain" if args.uncertain else None)
    return base.show(args, rows, "mails", lambda r: (
        f"{r['id']:>6}  {r['at'][:19]}  {r['shop']:<8} {r['order_no']:<28} {STAGE_LABELS[r['stage']]}"
        f"{' (再送)' if r['resend'] else '':<5} {r['state']:<10} {r['sent_to'] or r['to'] or '-'}  {r['message_id']}  {r['answer']}"))


def cmd_mail_show(args) -> int:
    tx = base.reader(base.config(args)).read()
    row = next(iter(outbound_tables.mail_log(tx, mail_id=args.mail_id)), None)
    if row is None:
        raise TsunagiError(f"no mail {args.mail_id} (the ids are in tsunagi mail log)")
    said = mailcontents.kept(tx, args.mail_id)
    print(f"{row['shop']} {row['order_no']} {STAGE_LABELS[row['stage']]}: {row['state']}  "
          f"To: {row['sent_to'] or row['to'] or '-'}  {row['message_id']}")
    if said is None:
        print("送った内容は保存されていません (まだ送っていないか、保存を始める前に送ったメール); "
              f"今のテンプレートでの内容: tsunagi mail preview {row['shop']} {row['order_no']} {row['stage']}")
        return 0
    print(f"Subject: {said[0]}\n")
    print(said[1], end="" if said[1].endswith("\n") else "\n")
    return 0


def cmd_mail_resend(args) -> int:
    cfg = base.config(args)
    if not cfg.shop(args.shop).mail:
        raise TsunagiError(f"shop {args.shop} sends no mails ([shop.mail] is not set)")
    store = base.writer(cfg)
    order_id = base.order_id(store, args.shop, args.order_no)
    with store.transaction() as tx:
        outbound_tables.queue_mail(tx, order_id, args.shop, _stage(args.stage), timestamp(), to_addr=args.to or "", resend=True)
    print(f"{args.order_no}: {STAGE_LABELS[args.stage]} mail queued again"
          + (f" to {args.to}" if args.to else "") + " (recorded as a resend)")
    return 0


def _since(value: str | None) -> str | None:
    """A date or time as stored (ISO 8601, JST) for comparing; a time without an offset is JST."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise TsunagiError(f"--since {value!r}: give a date (2026-11-30) or a time (2026-11-30T09:00)") from None
    at = at.replace(tzinfo=JST) if at.tzinfo is None else at.astimezone(JST)
    return at.isoformat(timespec="microseconds")


def cmd_mail_retry(args) -> int:
    cfg = base.config(args)
    since = _since(args.since)
    with base.writer(cfg).transaction() as tx:
        count = outbound_tables.requeue_failed(tx, args.shop, since)
    print(f"{count} failed mails queued again" + (" (each once; the daemon sends them)" if count else ""))
    return 0
