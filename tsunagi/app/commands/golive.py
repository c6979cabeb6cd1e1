"""The orders close-before command: go-live, orders already handled in the cart take no stock."""
from __future__ import annotations

from datetime import date

from tsunagi.app.commands import base
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool
from tsunagi.oms import golive


def cmd_close_before(args, who: str) -> int:
    """Close the open orders ordered before the date; list those tsunagi may still ship (left open)."""
    if not args.date:
        raise TsunagiError("give the date: tsunagi orders close-before YYYY-MM-DD [--shop S]")
    try:
        before = date.fromisoformat(args.date)
    except ValueError:
        raise TsunagiError(f"not a date: {args.date!r} (write it as YYYY-MM-DD, e.g. 2026-10-01)") from None
    cfg = base.config(args)
    store = base.writer(cfg)
    with store.transaction() as tx:
        closed, left = golive.close_before(tx, before, args.shop, who)
    print(f"{len(closed)} orders ordered before {before.isoformat()} closed (引当を解除、メールなし)")
    for order_no, why in left:
        print(f"  left open: {order_no}: {why}")
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)
    return 0
