"""Commands for stock feeds: write every SKU's figure again, and list where a channel's stock drifted."""
from __future__ import annotations

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool
from tsunagi.oms import published
from tsunagi.outbound import resync


def register(sub) -> None:
    fd = sub.add_parser("feed", help="stock feeds").add_subparsers(dest="sub", required=True)
    fr = fd.add_parser("resync", help="write every mapped SKU's current figure to each shop's stock file")
    fr.add_argument("--shop", help="only this shop")
    fr.set_defaults(func=cmd_feed_resync)
    fdr = fd.add_parser("drift", help="SKUs whose figure in a channel's own stock download differs from the "
                                      "one tsunagi published")
    fdr.add_argument("--shop", help="only this shop")
    fdr.add_argument("--json", action="store_true")
    fdr.set_defaults(func=cmd_feed_drift)


def cmd_feed_resync(args) -> int:
    cfg = base.config(args)
    if args.shop and not cfg.shop(args.shop).stock_feed:
        raise TsunagiError(f"shop {args.shop} has no stock_feed to resync")
    writer = wiring.feed_writer(cfg, Spool(cfg.spool_dir), base.writer(cfg))
    written = resync.resync(writer, [args.shop] if args.shop else None)
    for shop, count in written.items():
        print(f"shop {shop}: {count} SKUs written to its stock file")
    if not written:
        print("no shop has a stock_feed")
    return 0


def cmd_feed_drift(args) -> int:
    cfg = base.config(args)
    rows = published.drift(base.reader(cfg).read(), args.shop)
    return base.show(args, rows, "drifted SKUs", lambda r: (
        f"{r['shop']}  {r['channel_sku']}  channel {r['channel_qty']}  published {r['published_qty']}  "
        f"(download {r['reported_at'][:19]}, {r['source']}; "
        f"{'re-push pending' if r['repush_pending'] else 're-pushed'})"))
