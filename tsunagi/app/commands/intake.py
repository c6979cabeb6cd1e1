"""Commands that take input: import a CSV now, ingest a mail file, and the spool's list, show and retry."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tsunagi.app import wiring
from tsunagi.app.commands import base
from tsunagi.common.errors import TsunagiError
from tsunagi.common.safetext import printable
from tsunagi.ingest import importlock, readahead, spoolstate
from tsunagi.ingest.pipeline import DUPLICATE
from tsunagi.ingest.spool import Spool, mtime_meta, new_id
from tsunagi.oms.store import transient


def register(sub) -> None:
    imp = sub.add_parser("import", help="apply one order or stock CSV now (an import a previous run left "
                                        "unfinished is finished first)")
    imp.add_argument("file", nargs="?", help="the CSV; without it, only what a previous run left unfinished")
    imp.add_argument("--shop", help="the shop whose order or stock file it is")
    imp.add_argument("--carrier", help="the carrier or warehouse whose file it is (results, warehouse stock)")
    imp.add_argument("--layout", help="the file's layout (default: chosen by its header)")
    imp.add_argument("--abandon-interrupted", action="store_true",
                     help="set aside (spool failed/) an import a previous run left unfinished instead of finishing "
                          "it; the rows it applied stay")
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
    """One CSV applied here and now, with progress on a terminal and a summary at the end. First, what a
    previous run was killed in the middle of is finished (or abandoned): the newer file comes after it."""
    cfg = base.config(args)
    if args.file:
        base.input_file(args.file)
        if not _whose(cfg, args):
            return 2
    spool, store, pipeline = wiring.open_parts(cfg)
    left = importlock.interrupted(spool)
    try:
        code, settled = _settle_interrupted(spool, pipeline, left, args.abandon_interrupted)
    finally:
        for _, lock in left:
            lock.release()
    if not settled:
        if args.file:
            base.stderr(f"{printable(args.file)}: 取り込みません (前回中断した取り込みが先に終わる必要があります); もう一度実行してください")
        return max(code, 1)
    if args.file:
        code = max(code, _import_file(args, spool, pipeline))
    elif not left:
        if not args.abandon_interrupted:
            raise TsunagiError("取り込むファイルを指定してください (tsunagi import FILE --shop SHOP); "
                               "前回中断した取り込みはありません")
        print("前回中断した取り込みはありません")
    base.flush_feeds_if_idle(cfg, spool, store)
    return code


def _named(file: str) -> str:
    """The file's full name for the item's meta, bytes that are not UTF-8 (a name from a Windows share) as
    escapes: the meta is UTF-8 JSON, which a name's raw bytes would stop from being written."""
    return os.fsencode(Path(file).resolve()).decode("utf-8", "backslashreplace")


def _import_file(args, spool: Spool, pipeline) -> int:
    """The file spooled straight into cur/ under a lock this process holds while it lives: a daemon
    starting meanwhile leaves it alone, and if this process dies its next run finishes it."""
    meta = {"source": importlock.SOURCE, "kind": "csv", "shop": args.shop or "", "file": _named(args.file),
            **({"carrier": args.carrier} if args.carrier else {}), **({"layout": args.layout} if args.layout else {})}
    with open(args.file, "rb") as fh:
        item_id = new_id()
        lock = importlock.ImportLock.take(spool.dir("imports"), item_id, wait=True)
        try:
            meta.update(mtime_meta(os.fstat(fh.fileno()).st_mtime))     # when the file's counts were made
            try:
                item, prepared = readahead.spool_reading_ahead(spool, pipeline.csv, fh, meta, item_id)
            except KeyboardInterrupt:
                return _interrupted(spool, item_id, printable(args.file))
            fh.close()
            return _apply(spool, pipeline, item, printable(args.file), prepared)
        finally:
            lock.release()


ABANDONED = "中断した取り込みを tsunagi import --abandon-interrupted で破棄 (取り込み済みの行はそのまま)"


def _settle_interrupted(spool: Spool, pipeline, left: list, abandon: bool) -> tuple[int, bool]:
    """Imports a killed run left in cur/, oldest first, finished (or abandoned) before anything newer.
    The worst exit status, and whether all were settled (if not, nothing newer goes ahead)."""
    code = 0
    for item, _ in left:
        m = item.meta
        what = f"{item.id} ({printable(m.get('file', ''))}, {m.get('spooled_at', '')[:19].replace('T', ' ')})"
        if abandon:
            spool.fail(item, {"stage": "import", "kind": "abandoned", "message": ABANDONED})
            print(f"前回中断した取り込み {what} を破棄しました (取り込み済みの行はそのまま; "
                  f"やり直すなら tsunagi spool retry {item.id})")
            continue
        print(f"前回中断した取り込み {what} を完了します")
        done = _apply(spool, pipeline, item, printable(m.get("file", "")) or item.id)
        code = max(code, done)
        if done > 1 or not spool.find(item.id) or spool.find(item.id)[0].folder in (spool.dir("new"), spool.dir("cur")):
            return code, False
    return code, True


def _apply(spool: Spool, pipeline, item, label: str, prepared=None) -> int:
    """A claimed import applied here; its summary printed. Ctrl-C leaves it for the next run to finish."""
    bar = _ProgressBar() if sys.stderr.isatty() else None
    pipeline.last_csv = None
    try:
        outcome = pipeline.process_file(item, bar, prepared)
    except KeyboardInterrupt:
        return _interrupted(spool, item.id, label)
    except Exception as exc:
        if not transient(exc):
            raise
        base.stderr(f"{label}: not imported now ({exc}); it waits in {spool.dir('new')} and the daemon "
                    f"applies it (or run this again later)")
        return 1
    finally:
        if bar:
            bar.close()
    if outcome == DUPLICATE:
        print(f"{label}: this exact file was imported before; nothing changed")
        return 0
    found = spool.find(item.id)
    reason = found[1] if found else None
    waits = bool(reason) and reason.get("kind") == "rows_refused"
    if pipeline.last_csv is None or (reason and "done" not in str(found[0].folder) and not waits):
        base.stderr(f"{label}: not imported: {reason.get('message') if reason else outcome}")
        base.stderr(f"details: tsunagi spool show {item.id}")
        return 1
    return _summary(label, pipeline.last_csv, item.id)


def _interrupted(spool: Spool, item_id: str, label: str) -> int:
    """Ctrl-C: an import that reached cur/ is left for the next run to finish (one that did not never happened)."""
    found = spool.find(item_id)
    if found and found[0].folder == spool.dir("cur"):
        base.stderr(f"\n{label}: 中断しました。次の tsunagi import がこの取り込み ({item_id}) を完了します "
                    f"(破棄するなら tsunagi import --abandon-interrupted)")
    return 130


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
    data = Path(base.input_file(args.file)).read_bytes()
    spool = Spool(cfg.spool_dir)
    item = spool.put(data, {"source": "file", "kind": "order_mail", "shop": args.shop,
                            "file": _named(args.file)})
    print(f"{printable(args.file)}: spooled as {item.id}")
    return base.apply_now_if_idle(cfg)


def cmd_spool_list(args) -> int:
    cfg = base.config(args)
    spool = Spool(cfg.spool_dir)
    waiting, failed = spool.waiting(), spool.failed()
    print(f"waiting in new/: {len(waiting)}")
    kinds = spoolstate.by_kind(failed)
    print(f"failed/: {len(failed)}" + (f" ({spoolstate.shown(kinds)})" if kinds else ""))
    left = importlock.left_over(spool)
    if left:
        print(f"interrupted imports in cur/: {len(left)} (tsunagi import finishes them first; "
              f"tsunagi import --abandon-interrupted sets them aside)")
        for item in left:
            print(f"  {item.id}  {item.meta.get('shop', '')}  {printable(item.meta.get('file', ''))}")
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
        raise TsunagiError(f"no item {args.id} in {cfg.spool_dir} (the ids are in tsunagi spool list)")
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
        raise TsunagiError(f"no item {args.id} in {spool.dir('failed')} (the ids are in tsunagi spool list)") from None
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
