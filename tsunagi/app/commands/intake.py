"""Commands that take input: import a CSV now, ingest a mail file, and the spool's list, show and retry."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.common.safetext import printable
from tsunagi.ingest import spoolstate
from tsunagi.ingest.pipeline import DUPLICATE
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import transient


def register(sub) -> None:
    imp = sub.add_parser("import", help="apply one order or stock CSV now")
    imp.add_argument("file")
    imp.add_argument("--shop", help="the shop whose order or stock file it is")
    imp.add_argument("--carrier", help="the carrier or warehouse whose file it is (results, warehouse stock)")
    imp.add_argument("--layout", help="the file's layout (default: chosen by its header)")
    imp.set_defaults(func=cmd_import)
    ing = sub.add_parser("ingest", help="take one mail file as if it had arrived over SMTP")
    ing.add_argument("file")
    ing.add_argument("--shop", required=True)
    ing.set_defaults(func=cmd_ingest)
    sp = sub.add_parser("spool").add_subparsers(dest="sub", required=True)
    sp.add_parser("list", help="waiting and failed items").set_defaults(func=cmd_spool_list)
    ss = sp.add_parser("show", help="one item: where it is, and its reason or row report")
    ss.add_argument("id")
    ss.add_argument("--all", action="store_true", help="every refused row")
    ss.add_argument("--json", action="store_true")
    ss.set_defaults(func=cmd_spool_show)
    sr = sp.add_parser("retry", help="run a failed item again")
    sr.add_argument("id")
    sr.set_defaults(func=cmd_spool_retry)


def _whose(cfg, args) -> bool:
    """The file's owner named and known (an unknown name is refused listing the known ones)."""
    if args.carrier:
        if args.carrier not in {w.name for w in cfg.warehouses}:
            cfg.carrier(args.carrier)
    elif args.shop:
        cfg.shop(args.shop)
    else:
        base.stderr("say whose file it is: --shop SHOP (orders, stock) or --carrier CARRIER (tracking numbers)")
        return False
    if args.layout and cfg.csv_layout(args.layout).kind == "products":   # an unknown one is refused here too
        base.stderr(f"{args.layout} is a products layout: tsunagi products import FILE --layout {args.layout}")
        return False
    return True


def cmd_import(args) -> int:
    """One CSV applied here and now, with progress on a terminal and a summary at the end."""
    cfg = base.config(args)
    if not _whose(cfg, args):
        return 2
    spool, store, pipeline = wiring.open_parts(cfg)
    meta = {"source": "import", "kind": "csv", "shop": args.shop or "", "file": str(Path(args.file).resolve()),
            **({"carrier": args.carrier} if args.carrier else {}), **({"layout": args.layout} if args.layout else {})}
    with open(args.file, "rb") as fh:
        item = spool.put_file(fh, meta, ".csv", into="cur")
    bar = _ProgressBar() if sys.stderr.isatty() else None
    try:
        outcome = pipeline.process_file(item, bar)
    except Exception as exc:
        if not transient(exc):
            raise
        base.stderr(f"{args.file}: not imported now ({exc}); it waits in {spool.dir('new')} and the daemon "
                    f"applies it (or run this again later)")
        return 1
    finally:
        if bar:
            bar.close()
    if outcome == DUPLICATE:
        print(f"{args.file}: this exact file was imported before; nothing changed")
        return 0
    found = spool.find(item.id)
    reason = found[1] if found else None
    waits = bool(reason) and reason.get("kind") == "rows_refused"
    if pipeline.last_csv is None or (reason and "done" not in str(found[0].folder) and not waits):
        base.stderr(f"{args.file}: not imported: {reason.get('message') if reason else outcome}")
        base.stderr(f"details: tsunagi spool show {item.id}")
        return 1
    code = _summary(args.file, pipeline.last_csv, item.id)
    base.flush_feeds_if_idle(cfg, spool, store)
    return code


def _summary(file: str, result, item_id: str) -> int:
    rate = result.rows / result.seconds if result.seconds else 0
    print(f"{file}: {result.rows:,} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s), layout {result.layout}")
    if result.retried:
        print(f"  this file was imported before: only its {result.retried:,} waiting rows were tried again")
    for key, n in sorted(result.outcomes.items()):
        print(f"  {key}: {n:,}")
    if result.problems:
        print(f"  refused rows: {result.refused_rows:,}, rows of orders on hold: {result.held_rows:,}")
        for p in sorted(result.problems, key=lambda p: p.row)[:10]:
            print(f"    {p.message}")
        if result.refused_rows:
            print(f"  the refused rows wait: fix their cause, then tsunagi spool retry {item_id}")
        print(f"details: tsunagi spool show {item_id}")
    return 1 if result.refused_rows else 0


class _ProgressBar:
    def __init__(self):
        self.started = time.monotonic()

    def __call__(self, rows: int, size: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        print(f"\r  {rows:>12,} rows  {rows / elapsed:>10,.0f} rows/s  {elapsed:>6.1f} s", end="", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        print(file=sys.stderr)


def cmd_ingest(args) -> int:
    cfg = base.config(args)
    cfg.shop(args.shop)
    data = Path(args.file).read_bytes()
    spool = Spool(cfg.spool_dir)
    item = spool.put(data, {"source": "file", "kind": "order_mail", "shop": args.shop,
                            "file": str(Path(args.file).resolve())})
    print(f"{args.file}: spooled as {item.id}")
    return base.apply_now_if_idle(cfg)


def cmd_spool_list(args) -> int:
    cfg = base.config(args)
    spool = Spool(cfg.spool_dir)
    waiting, failed = spool.waiting(), spool.failed()
    print(f"waiting in new/: {len(waiting)}")
    kinds = spoolstate.by_kind(failed)
    print(f"failed/: {len(failed)}" + (f" ({spoolstate.shown(kinds)})" if kinds else ""))
    for reason in failed:
        where = " ".join(f"{k}={printable(reason[k])}" for k in ("field", "line") if k in reason)
        waits = f"待ち行 {reason['waiting_rows']} " if "waiting_rows" in reason else ""
        print(f"  {reason['id']}  {reason.get('shop', '')}  [{reason.get('kind')}] {waits}"
              f"{printable(reason.get('message'))} {where}")
    return 0


def cmd_spool_show(args) -> int:
    cfg = base.config(args)
    found = Spool(cfg.spool_dir).find(args.id)
    if found is None:
        base.stderr(f"no item {args.id} in {cfg.spool_dir}")
        return 1
    item, reason = found
    folder = str(item.folder.relative_to(cfg.spool_dir))
    if args.json:
        base.print_json({"id": item.id, "folder": folder, "meta": item.meta, "reason": reason})
        return 0
    m = item.meta
    print(f"{item.id}  ({folder})")
    print(f"  受信: {m.get('spooled_at', '')}  経路: {m.get('source', '')}  ショップ: {m.get('shop', '')}  "
          f"{printable(m.get('file', '') or m.get('mail_from', ''))}  {m.get('size', 0):,} bytes")
    _show_sender(m)
    if reason is None:
        print("  問題なし" if "done" in folder else "  未処理")
        return 0
    _show_reason(reason, args.all)
    return 0


def _show_sender(m: dict) -> None:
    """What vouches for the sender: the SMTP login, and the DKIM verdict of the (original) mail."""
    if m.get("auth_user"):
        print(f"  SMTP認証: {m['auth_user']}")
    dkim = m.get("dkim")
    if dkim:
        signer = f" d={dkim['domain']} s={dkim.get('selector', '')}" if dkim.get("domain") else ""
        where = " (転送された元メール)" if dkim.get("where") == "attached" else ""
        reason = f": {dkim['reason']}" if dkim.get("reason") else ""
        print(f"  DKIM: {dkim.get('result')}{signer}{where}{reason}")


def _show_reason(reason: dict, everything: bool) -> None:
    print(f"  [{reason.get('kind')}] {printable(reason.get('message'))}")
    for key in ("field", "line", "layout", "rows", "applied", "waiting_rows", "superseded_by"):
        if key in reason:
            print(f"  {key}: {printable(reason[key])}")
    problems = reason.get("problems", [])
    shown = problems if everything else problems[:50]
    for p in shown:
        print(f"    {printable(p['message'])}")
    hidden = len(problems) - len(shown) + reason.get("more_problems", 0)
    if hidden:
        print(f"    … 他 {hidden} 件 (--all で全件)")


def cmd_spool_retry(args) -> int:
    cfg = base.config(args)
    spool = Spool(cfg.spool_dir)
    try:
        spool.retry(args.id)
    except FileNotFoundError:
        base.stderr(f"no item {args.id} in {spool.dir('failed')}")
        return 1
    print(f"{args.id}: back in new/")
    code = base.apply_now_if_idle(cfg)
    return _still_refused(spool, args.id) or code


def _still_refused(spool: Spool, item_id: str) -> int:
    """After a retry applied here: the rows of a file that still fail, with why (1 if any)."""
    found = spool.find(item_id)
    reason = found[1] if found and "failed" in str(found[0].folder) else None
    if not reason or reason.get("kind") != "rows_refused":
        return 0
    rows = [p for p in reason.get("problems", []) if p.get("field") != "hold"]
    print(f"{item_id}: {reason['waiting_rows']} rows still refused (they wait; retry again once fixed)")
    for p in rows[:10]:
        print(f"    {printable(p['message'])}")
    return 1
