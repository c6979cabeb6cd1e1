"""Commands for shipping: ready, label export, confirmations, mismatches, and the warehouse's instructions."""
from __future__ import annotations

from datetime import date

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.ingest.spool import Spool
from tsunagi.oms import mismatch, status
from tsunagi.outbound import labels, wms


def register(sub) -> None:
    sh = sub.add_parser("ship", help="labels, tracking, confirmations").add_subparsers(dest="sub", required=True)
    shr = sh.add_parser("ready", help="確認待ち → 印刷待ち by the shops' mappings (or hold naming what is unmapped)")
    shr.add_argument("--shop")
    shr.set_defaults(func=cmd_ship_ready)
    she = sh.add_parser("export", help="write the label file of a carrier for its ready orders")
    she.add_argument("carrier")
    she.add_argument("--shop")
    she.add_argument("--date", help="出荷予定日 YYYY-MM-DD (default: today)")
    she.set_defaults(func=cmd_ship_export)
    shc = sh.add_parser("confirm", help="write shipment confirmations for shipped orders now")
    shc.set_defaults(func=cmd_ship_confirm)
    shm = sh.add_parser("mismatch", help="shipped orders whose total differs from the channel's latest data")
    shm.add_argument("--shop")
    shm.add_argument("--json", action="store_true")
    shm.set_defaults(func=cmd_ship_mismatch)
    wm = sub.add_parser("wms", help="warehouse exchange").add_subparsers(dest="sub", required=True)
    wms_send = wm.add_parser("send", help="write the warehouse's new shipping instructions and cancels now")
    wms_send.add_argument("name")
    wms_send.set_defaults(func=cmd_wms_send)


def cmd_ship_ready(args) -> int:
    cfg = base.config(args)
    counts = wiring.ready_orders(cfg, base.writer(cfg), args.shop, only_auto=False)
    print(f"印刷待ち: {counts.get(status.READY, 0)}  保留: {counts.get(status.HOLD, 0)}")
    return 0


def cmd_ship_export(args) -> int:
    cfg = base.config(args)
    carrier = cfg.carrier(args.carrier)
    spool, store = Spool(cfg.spool_dir), base.writer(cfg)
    wiring.ready_orders(cfg, store, args.shop)
    day = date.fromisoformat(args.date) if args.date else None
    result = labels.export(store, spool.dir("outbox"), carrier, cfg.layouts, args.shop, day)
    return _written(cfg, result.files, f"{args.carrier}: {result.shipments} shipments for {result.orders} orders",
                    result.held)


def _written(cfg, files, summary: str, held: list[str]) -> int:
    """The files written, what they hold, and each order held instead (then exit 1)."""
    for path in files:
        print(f"{path.relative_to(cfg.data_dir)}")
    print(summary)
    for order in held:
        base.stderr(f"  保留: {order}")
    return 1 if held else 0


def cmd_ship_confirm(args) -> int:
    cfg = base.config(args)
    spool, store = Spool(cfg.spool_dir), base.writer(cfg)
    for path in wiring.confirm_writer(cfg, spool, store).flush():
        print(f"{path.relative_to(cfg.data_dir)}")
    return 0


def cmd_ship_mismatch(args) -> int:
    rows = mismatch.ship_mismatch(base.reader(base.config(args)).read(), args.shop)
    return base.show(args, rows, "orders", lambda r: (
        f"{r['shop']:<10} {r['order_no']:<28} {status.label(r['status']):<6} tsunagi {r['total']:>9,}円  "
        f"チャネル {r['channel_total']:>9,}円  差 {r['channel_total'] - r['total'] + r.get('refunded', 0):+,}円"
        + (f"  (返金 {r['refunded']:,}円)" if r.get('refunded') else "")
        + (f"  (分割・同梱: {', '.join(r['related'])})" if r.get('related') else "")))


def cmd_wms_send(args) -> int:
    cfg = base.config(args)
    spool, store = Spool(cfg.spool_dir), base.writer(cfg)
    wiring.ready_orders(cfg, store)
    result = wms.send(store, spool.dir("outbox"), cfg.wms(args.name), cfg.layouts)
    return _written(cfg, result.files, f"{args.name}: {result.instructed} orders instructed, {result.cancelled} "
                                       f"cancels", result.held)
