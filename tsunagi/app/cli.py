"""The tsunagi command: serve, demo, check, imports, and views of orders, stock and the spool."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from tsunagi.app import config as config_mod
from tsunagi.app import notifyflow, shipflow
from tsunagi.app.daemon import (
    AlreadyRunning,
    feed_writer,
    open_parts,
    run_forever,
    take_lock,
)
from tsunagi.app.transfers import run_endpoint
from tsunagi.common import clock
from tsunagi.common.clock import timestamp
from tsunagi.common.sftp import SftpError
from tsunagi.ingest.pipeline import DUPLICATE
from tsunagi.ingest.spool import Spool
from tsunagi.oms import catalog, counting, mailq, orders, queries, status, stock
from tsunagi.oms.store import Store
from tsunagi.outbound import labels, wms
from tsunagi.outbound.layouts import load_layout
from tsunagi.outbound.mailtemplates import STAGE_LABELS, STAGES
from tsunagi.parsers.csvfile import parse_file
from tsunagi.parsers.csvlayout import LayoutError
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailspec import load_spec
from tsunagi.parsers.master import parse_counts, parse_products


def _config(args) -> config_mod.Config:
    path = args.config or os.environ.get("TSUNAGI_CONFIG") or "config.toml"
    return config_mod.load(path)


def _store(cfg) -> Store:
    store = Store(cfg.db_path, cfg.store_synchronous)
    notifyflow.sync_stages(cfg, store)      # a status change made here queues mails like the daemon's
    return store


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _show(args, rows: list[dict], noun: str, line) -> int:
    """A listing: the stable JSON with --json, else one line a row and the count."""
    if args.json:
        _print_json(rows)
        return 0
    for row in rows:
        print(line(row))
    print(f"({len(rows)} {noun})")
    return 0


def cmd_serve(args) -> int:
    run_forever(_config(args))
    return 0


def cmd_demo(args) -> int:
    from tsunagi.app.demo import run_demo
    return run_demo(keep=args.keep)


def cmd_check(args) -> int:
    cfg = _config(args)
    if args.layout or args.sample:
        if not (args.layout and args.sample):
            print("check a layout with both --layout NAME and --sample FILE", file=sys.stderr)
            return 2
        return _check_layout(cfg, args.layout, Path(args.sample), args.shop or cfg.shops[0].id)
    for shop in cfg.shops:
        for cart in shop.mail_specs:
            spec = load_spec(cfg.spec_dir / f"{cart}.toml")
            print(f"shop {shop.id}: mail spec {cart} ({spec.title})")
        if shop.stock_feed:
            print(f"shop {shop.id}: stock feed {shop.stock_feed.layout}, safety stock {shop.stock_feed.safety_stock}")
        print(f"shop {shop.id}: takes order mail for {', '.join(shop.order_mail_to) or '(no address)'}")
        if shop.order_csv:
            print(f"shop {shop.id}: order CSV layout {shop.order_csv.layout}, confirmed within "
                  f"{shop.order_csv.confirm_within_hours:g} h")
    print(f"stock CSV layouts: {', '.join(cfg.stock_layouts)}")
    if not _check_templates(cfg):
        return 1
    for c in cfg.carriers:
        services = ", ".join(load_layout("label", c.layout, dirs=cfg.csv_layout_dirs).tables.get("service", {}))
        print(f"carrier {c.name}: labels {c.layout} ({services}); results {', '.join(c.result_layouts) or '-'}")
    for w in cfg.warehouses:
        print(f"wms {w.name}: location {w.location}, lines tagged {w.tag!r} of orders in {', '.join(w.statuses)}")
    for shop in cfg.shops:
        if shop.shipping:
            print(f"shop {shop.id}: shipping {len(shop.shipping.delivery)} delivery / {len(shop.shipping.payment)} "
                  f"payment / {len(shop.shipping.time)} time names mapped; confirmation "
                  f"{shop.shipping.confirm_layout or '(none)'}")
    for ep in cfg.sftp:
        when = f"every {ep.every_minutes:g} min" if ep.every_minutes else ""
        when += (" " if when else "") + (f"at {', '.join(ep.at)}" if ep.at else "")
        parts = [f"pull {ep.pull.remote_dir} -> {ep.pull.into}" if ep.pull else "",
                 f"push {ep.push.source} -> {ep.push.remote_dir}" if ep.push else ""]
        print(f"sftp {ep.name}: {ep.user}@{ep.host}:{ep.port} {' / '.join(p for p in parts if p)} "
              f"({when or 'only by tsunagi sftp run'})")
        if not ep.known_hosts.exists():
            print(f"  warning: {ep.known_hosts} does not exist; connections will be refused", file=sys.stderr)
    spool, store, _ = open_parts(cfg)
    feed_writer(cfg, spool, store)
    print(f"{cfg.path}: OK ({len(cfg.shops)} shops, data in {cfg.data_dir})")
    return 0


def _check_templates(cfg) -> bool:
    """Render every enabled stage of every shop against a sample order: a missing variable fails here,
    not in a buyer's mailbox."""
    ok = True
    for shop in cfg.shops:
        if not shop.mail:
            continue
        templates = notifyflow.templates_for(shop)
        for stage in shop.mail.stages:
            try:
                rendered = templates.render(stage, notifyflow.sample_context(cfg, shop, stage))
                print(f"shop {shop.id}: mail {stage} OK ({rendered.subject})")
            except Exception as exc:   # jinja2's errors, a missing file: each named with its stage
                print(f"shop {shop.id}: mail {stage}: {type(exc).__name__}: {exc}", file=sys.stderr)
                ok = False
    return ok


def _import_report(kind: str, done: int, changed: int, problems: list[str]) -> int:
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    print(f"{kind}: {done} rows applied, {changed} changed, {len(problems)} rows refused")
    return 1 if problems else 0


def cmd_products_import(args) -> int:
    cfg = _config(args)
    records, problems = parse_products(Path(args.file).read_bytes())
    store = _store(cfg)
    with store.transaction() as tx:
        for rec in records:
            catalog.upsert_product(tx, rec)
        placed = orders.retry_waiting(tx)
    if placed:
        print(f"{placed} held or waiting orders were placed")
    return _import_report("products", len(records), len(records), problems)


def cmd_stock_import(args) -> int:
    cfg = _config(args)
    records, problems = parse_counts(Path(args.file).read_bytes())
    store = _store(cfg)
    changed = 0
    ref = f"import:{Path(args.file).name}"
    with store.transaction() as tx:
        stock.set_locations(tx, cfg.locations)
        for rec in records:
            changed += counting.apply_count(tx, rec, ref)
        placed = orders.retry_waiting(tx) if changed else 0
    if placed:
        print(f"{placed} orders waiting for stock were placed")
    return _import_report("stock", len(records), changed, problems)


def cmd_stock(args) -> int:
    rows = stock.rows(_store(_config(args)).read())
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'SKU':<20} {'在庫':>6} {'引当':>6} {'フリー':>6}")
    for r in rows:
        print(f"{r['sku']:<20} {r['on_hand']:>6} {r['reserved']:>6} {r['free']:>6}")
    return 0


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
    cfg = _config(args)
    tx = _store(cfg).read()
    code = status.parse(args.status) if args.status else None
    ids = _gap_ids(cfg, tx, args) if args.unconfirmed or args.mail_missing else queries.order_ids(tx, code, args.shop)
    views = [v for v in (queries.order_view(tx, i) for i in ids) if not code or v["status"] == code]
    return _show(args, views, "orders", lambda v: (
        f"{v['shop']:<10} {v['order_no']:<28} {v['status_label']:<6} {v['ordered_at'][:16]} "
        f"{v['total']:>9,}円 {v['ship_to'].get('name', '')}" + (f"  [{v['hold_reason']}]" if v["hold_reason"] else "")))


def cmd_order(args) -> int:
    tx = _store(_config(args)).read()
    order_id = queries.find_order(tx, args.shop, args.order_no)
    if order_id is None:
        print(f"no order {args.order_no} in shop {args.shop}", file=sys.stderr)
        return 1
    v = queries.order_view(tx, order_id, history=True)
    if args.json:
        _print_json(v)
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


def cmd_spool_list(args) -> int:
    cfg = _config(args)
    spool = Spool(cfg.spool_dir)
    waiting = spool.waiting()
    failed = spool.failed()
    print(f"waiting in new/: {len(waiting)}")
    kinds: dict[str, int] = {}
    for reason in failed:
        kinds[reason.get("kind", "?")] = kinds.get(reason.get("kind", "?"), 0) + 1
    print(f"failed/: {len(failed)}" + (f" ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))})" if kinds else ""))
    for reason in failed:
        where = " ".join(f"{k}={reason[k]}" for k in ("field", "line") if k in reason)
        print(f"  {reason['id']}  {reason.get('shop', '')}  [{reason.get('kind')}] {reason.get('message')} {where}")
    return 0


def _one_order(cfg, shop: str, order_no: str):
    store = _store(cfg)
    order_id = queries.find_order(store.read(), shop, order_no)
    if order_id is None:
        raise ValueError(f"no order {order_no} in shop {shop}")
    return store, order_id


def cmd_order_set(args) -> int:
    cfg = _config(args)
    store, order_id = _one_order(cfg, args.shop, args.order_no)
    changes = dict(pair.split("=", 1) for pair in args.changes if "=" in pair)
    if len(changes) != len(args.changes):
        raise ValueError("write each change as field=value, e.g. ship_to.name=\"高橋 花子\"")
    with store.transaction() as tx:
        orders.edit(tx, order_id, changes)
    print(f"{args.order_no}: {', '.join(changes)} updated")
    return 0


def cmd_order_release(args) -> int:
    cfg = _config(args)
    store, order_id = _one_order(cfg, args.shop, args.order_no)
    with store.transaction() as tx:
        placed = orders.release(tx, order_id)
    shipflow.ready_orders(cfg, store, args.shop)
    now_status = store.read().value("SELECT status FROM orders WHERE id = ?", order_id)
    print(f"{args.order_no}: {status.label(placed)} → {status.label(now_status)}")
    return 0


def cmd_spool_show(args) -> int:
    cfg = _config(args)
    found = Spool(cfg.spool_dir).find(args.id)
    if found is None:
        print(f"no item {args.id} in {cfg.spool_dir}", file=sys.stderr)
        return 1
    item, reason = found
    if args.json:
        _print_json({"id": item.id, "folder": str(item.folder.relative_to(cfg.spool_dir)), "meta": item.meta,
                     "reason": reason})
        return 0
    m = item.meta
    print(f"{item.id}  ({item.folder.relative_to(cfg.spool_dir)})")
    print(f"  受信: {m.get('spooled_at', '')}  経路: {m.get('source', '')}  ショップ: {m.get('shop', '')}  "
          f"{m.get('file', '') or m.get('mail_from', '')}  {m.get('size', 0):,} bytes")
    if reason is None:
        print("  問題なし" if "done" in str(item.folder) else "  未処理")
        return 0
    print(f"  [{reason.get('kind')}] {reason.get('message')}")
    for key in ("field", "line", "layout", "rows", "applied"):
        if key in reason:
            print(f"  {key}: {reason[key]}")
    problems = reason.get("problems", [])
    for p in problems[: None if args.all else 50]:
        print(f"    {p['message']}")
    hidden = len(problems) - (len(problems) if args.all else min(50, len(problems))) + reason.get("more_problems", 0)
    if hidden:
        print(f"    … 他 {hidden} 件 (--all で全件)")
    return 0


def cmd_import(args) -> int:
    """One CSV applied here and now, with progress on a terminal and a summary at the end."""
    cfg = _config(args)
    if args.carrier:
        if args.carrier not in {w.name for w in cfg.warehouses}:
            cfg.carrier(args.carrier)        # an unknown name is refused with the known ones listed
    elif args.shop:
        cfg.shop(args.shop)
    else:
        print("say whose file it is: --shop SHOP (orders, stock) or --carrier CARRIER (tracking numbers)",
              file=sys.stderr)
        return 2
    if args.layout:
        cfg.csv_layout(args.layout)      # an unknown layout is refused before anything is spooled
    spool, store, pipeline = open_parts(cfg)
    meta = {"source": "import", "kind": "csv", "shop": args.shop or "", "file": str(Path(args.file).resolve()),
            **({"carrier": args.carrier} if args.carrier else {}), **({"layout": args.layout} if args.layout else {})}
    with open(args.file, "rb") as fh:
        item = spool.put_file(fh, meta, ".csv", into="cur")
    bar = _ProgressBar() if sys.stderr.isatty() else None
    outcome = pipeline.process_file(item, bar)
    if bar:
        bar.close()
    if outcome == DUPLICATE:
        print(f"{args.file}: this exact file was imported before; nothing changed")
        return 0
    result = pipeline.last_csv
    found = spool.find(item.id)
    reason = found[1] if found else None
    if result is None or (reason and "done" not in str(found[0].folder)):
        print(f"{args.file}: not imported: {reason.get('message') if reason else outcome}", file=sys.stderr)
        print(f"details: tsunagi spool show {item.id}", file=sys.stderr)
        return 1
    rate = result.rows / result.seconds if result.seconds else 0
    print(f"{args.file}: {result.rows:,} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s), layout {result.layout}")
    for key, n in sorted(result.outcomes.items()):
        print(f"  {key}: {n:,}")
    if result.problems:
        print(f"  refused rows: {result.refused_rows:,}, rows of orders on hold: {result.held_rows:,}")
        for p in sorted(result.problems, key=lambda p: p.row)[:10]:
            print(f"    {p.message}")
        print(f"details: tsunagi spool show {item.id}")
    _flush_feeds_if_idle(cfg, spool, store)
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


def _flush_feeds_if_idle(cfg, spool, store) -> None:
    try:
        lock = take_lock(cfg.data_dir)
    except AlreadyRunning:
        return      # the daemon writes the feeds itself
    try:
        feed_writer(cfg, spool, store).flush()
    finally:
        lock.close()


def _check_layout(cfg, name: str, sample: Path, shop: str) -> int:
    """Read a sample with a layout (a shipped one or the user's own) and show the first order."""
    layout = cfg.csv_layout(name)
    print(f"layout {name}: {layout.title} ({layout.kind}, {layout.path})")
    with open(sample, "rb") as fh, tempfile.TemporaryDirectory() as tmp:
        decoded, chunks = parse_file(fh, layout, shop, Path(tmp) / "sample.utf8")
        print(f"encoding: {decoded.encoding}; {len(decoded.header)} columns: header OK")
        first, problems, rows = None, [], 0
        for chunk in chunks:
            rows += chunk.rows
            problems += chunk.problems
            first = first or (chunk.orders[0][0] if chunk.orders else None) or \
                (chunk.counts[0][0] if chunk.counts else None)
    print(f"{rows} rows, {len({p.row for p in problems})} rows with problems")
    for p in problems[:10]:
        print(f"  {p.message}")
    if first is None:
        print("no record could be read from the sample", file=sys.stderr)
        return 1
    print("first record:")
    _print_json(orders.record_data(first) | {"lines": [vars(x) | {"options": list(x.options)} for x in first.lines]}
                if hasattr(first, "order_no") else vars(first))
    return 0


def cmd_ship_ready(args) -> int:
    cfg = _config(args)
    counts = shipflow.ready_orders(cfg, _store(cfg), args.shop, only_auto=False)
    print(f"印刷待ち: {counts.get(status.READY, 0)}  保留: {counts.get(status.HOLD, 0)}")
    return 0


def cmd_ship_export(args) -> int:
    cfg = _config(args)
    target = shipflow.label_target(cfg, args.carrier)
    spool, store = Spool(cfg.spool_dir), _store(cfg)
    shipflow.ready_orders(cfg, store, args.shop)
    day = date.fromisoformat(args.date) if args.date else None
    result = labels.export(store, spool.dir("outbox"), target, args.shop, day)
    for path in result.files:
        print(f"{path.relative_to(cfg.data_dir)}")
    print(f"{args.carrier}: {result.shipments} shipments for {result.orders} orders")
    for held in result.held:
        print(f"  保留: {held}", file=sys.stderr)
    return 1 if result.held else 0


def cmd_ship_confirm(args) -> int:
    cfg = _config(args)
    spool, store = Spool(cfg.spool_dir), _store(cfg)
    for path in shipflow.confirm_writer(cfg, spool, store).flush():
        print(f"{path.relative_to(cfg.data_dir)}")
    return 0


def cmd_ship_mismatch(args) -> int:
    cfg = _config(args)
    tx = _store(cfg).read()
    rows = queries.ship_mismatch(tx, args.shop)
    return _show(args, rows, "orders", lambda r: (
        f"{r['shop']:<10} {r['order_no']:<28} {status.label(r['status']):<6} tsunagi {r['total']:>9,}円  "
        f"チャネル {r['channel_total']:>9,}円  差 {r['channel_total'] - r['total']:+,}円"))


def cmd_wms_send(args) -> int:
    cfg = _config(args)
    spool, store = Spool(cfg.spool_dir), _store(cfg)
    shipflow.ready_orders(cfg, store)
    result = wms.send(store, spool.dir("outbox"), shipflow.wms_target(cfg, args.name))
    for path in result.files:
        print(f"{path.relative_to(cfg.data_dir)}")
    print(f"{args.name}: {result.instructed} orders instructed, {result.cancelled} cancels")
    return 0


def _stage(name: str) -> str:
    if name not in STAGES:
        raise ValueError(f"stage {name!r}: use one of {', '.join(STAGES)}")
    return name


def cmd_mail_preview(args) -> int:
    cfg = _config(args)
    shop = cfg.shop(args.shop)
    store, order_id = _one_order(cfg, args.shop, args.order_no)
    tx = store.read()
    context = notifyflow.context(cfg, tx, order_id, _stage(args.stage))
    rendered = notifyflow.templates_for(shop).render(args.stage, context)
    sender = shop.mail
    print(f"From: {sender.sender_name if sender else shop.name} <{sender.sender if sender else '-'}>")
    print(f"To: {context['buyer'].get('email') or '(no address)'}")
    print(f"Subject: {rendered.subject}\n")
    print(rendered.text, end="" if rendered.text.endswith("\n") else "\n")
    if rendered.html is not None:
        print(f"\n--- HTML part ({len(rendered.html)} characters) ---\n{rendered.html}")
    return 0


def cmd_mail_log(args) -> int:
    cfg = _config(args)
    tx = _store(cfg).read()
    order_id = queries.find_order(tx, args.shop, args.order) if args.order and args.shop else None
    if args.order and order_id is None:
        raise ValueError(f"no order {args.order} in shop {args.shop} (give --shop with --order)")
    rows = mailq.log(tx, args.shop, order_id, "uncertain" if args.uncertain else None)
    return _show(args, rows, "mails", lambda r: (
        f"{r['at'][:19]}  {r['shop']:<8} {r['order_no']:<28} {STAGE_LABELS[r['stage']]}"
        f"{' (再送)' if r['resend'] else '':<5} {r['state']:<10} {r['to'] or '-'}  {r['message_id']}  {r['answer']}"))


def cmd_mail_resend(args) -> int:
    cfg = _config(args)
    if not (cfg.shop(args.shop).mail):
        raise ValueError(f"shop {args.shop} sends no mails ([shop.mail] is not set)")
    store, order_id = _one_order(cfg, args.shop, args.order_no)
    with store.transaction() as tx:
        mailq.queue(tx, order_id, args.shop, _stage(args.stage), timestamp(), to_addr=args.to or "", resend=True)
    print(f"{args.order_no}: {STAGE_LABELS[args.stage]} mail queued again"
          + (f" to {args.to}" if args.to else "") + " (recorded as a resend)")
    return 0


def cmd_sftp_run(args) -> int:
    cfg = _config(args)
    ep = cfg.endpoint(args.endpoint)
    spool = Spool(cfg.spool_dir)
    try:
        out = run_endpoint(cfg, spool, ep)
    except SftpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for key in ("pulled", "already_pulled", "sent"):
        if key in out:
            print(f"{key}: {len(out[key])} {' '.join(out[key])}")
    if out.get("sent"):
        closed = shipflow.confirmations_sent(_store(cfg), out["sent"])
        if closed:
            print(f"{closed} orders closed (請求済): their shipment confirmation was delivered")
    errors = out.get("pull_errors", []) + out.get("push_errors", [])
    for e in errors:
        print(f"  problem: {e}", file=sys.stderr)
    if spool.waiting():
        _apply_now_if_idle(cfg)
    return 1 if errors else 0


def cmd_spool_retry(args) -> int:
    cfg = _config(args)
    spool = Spool(cfg.spool_dir)
    try:
        spool.retry(args.id)
    except FileNotFoundError:
        print(f"no item {args.id} in {spool.dir('failed')}", file=sys.stderr)
        return 1
    print(f"{args.id}: back in new/")
    return _apply_now_if_idle(cfg)


def cmd_ingest(args) -> int:
    cfg = _config(args)
    cfg.shop(args.shop)
    data = Path(args.file).read_bytes()
    spool = Spool(cfg.spool_dir)
    item = spool.put(data, {"source": "file", "kind": "order_mail", "shop": args.shop,
                            "file": str(Path(args.file).resolve())})
    print(f"{args.file}: spooled as {item.id}")
    return _apply_now_if_idle(cfg)


def _apply_now_if_idle(cfg) -> int:
    """Apply waiting items here unless a daemon owns the spool (then it applies them itself)."""
    try:
        lock = take_lock(cfg.data_dir)
    except AlreadyRunning:
        print("the daemon is running and will apply it")
        return 0
    try:
        spool, store, pipeline = open_parts(cfg)
        spool.recover(max_tmp_age=60)
        for item_id in spool.waiting():
            outcome = pipeline.process(item_id)
            if outcome is not None:
                print(f"{item_id}: {outcome}")
        feed_writer(cfg, spool, store).flush()
    finally:
        lock.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsunagi", description="Email/CSV ingestion appliance for Japanese e-commerce")
    p.add_argument("-c", "--config", help="config file (default: $TSUNAGI_CONFIG or ./config.toml)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the daemon").set_defaults(func=cmd_serve)
    demo = sub.add_parser("demo", help="run the daemon on sample shops and show what it does")
    demo.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    demo.set_defaults(func=cmd_demo)
    ck = sub.add_parser("check", help="validate the configuration, specs and layouts; or a CSV layout on a sample")
    ck.add_argument("--layout", help="a CSV layout to try (shipped, in csv.layout_dir, or in config)")
    ck.add_argument("--sample", help="a sample file to read with --layout")
    ck.add_argument("--shop", help="shop the sample belongs to (default: the first)")
    ck.set_defaults(func=cmd_check)
    imp = sub.add_parser("import", help="apply one order or stock CSV now")
    imp.add_argument("file")
    imp.add_argument("--shop", help="the shop whose order or stock file it is")
    imp.add_argument("--carrier", help="the carrier or warehouse whose file it is (results, warehouse stock)")
    imp.add_argument("--layout", help="the file's layout (default: chosen by its header)")
    imp.set_defaults(func=cmd_import)
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
    ml = sub.add_parser("mail", help="buyer mails").add_subparsers(dest="sub", required=True)
    mp = ml.add_parser("preview", help="print a stage's mail for an order, rendered")
    mp.add_argument("shop")
    mp.add_argument("order_no")
    mp.add_argument("stage", help="purchase, shipment or post_purchase")
    mp.set_defaults(func=cmd_mail_preview)
    mlog = ml.add_parser("log", help="mails sent, waiting, failed or uncertain")
    mlog.add_argument("--shop")
    mlog.add_argument("--order")
    mlog.add_argument("--uncertain", action="store_true", help="only those a crash left undecided")
    mlog.add_argument("--json", action="store_true")
    mlog.set_defaults(func=cmd_mail_log)
    mr = ml.add_parser("resend", help="send one mail again on purpose (recorded as a resend)")
    mr.add_argument("shop")
    mr.add_argument("order_no")
    mr.add_argument("stage")
    mr.add_argument("--to", help="another address (the buyer's was wrong)")
    mr.set_defaults(func=cmd_mail_resend)
    sf = sub.add_parser("sftp").add_subparsers(dest="sub", required=True)
    sfr = sf.add_parser("run", help="run one endpoint's pull and push now")
    sfr.add_argument("endpoint")
    sfr.set_defaults(func=cmd_sftp_run)
    products = sub.add_parser("products").add_subparsers(dest="sub", required=True)
    pi = products.add_parser("import", help="CSV: sku,name[,components,channel_sku,shop]")
    pi.add_argument("file")
    pi.set_defaults(func=cmd_products_import)
    st = sub.add_parser("stock", help="show stock, or import counts")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stock)
    st_sub = st.add_subparsers(dest="sub")
    si = st_sub.add_parser("import", help="CSV: sku,location,lot,qty (absolute counts)")
    si.add_argument("file")
    si.set_defaults(func=cmd_stock_import)
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
    ing = sub.add_parser("ingest", help="take one mail file as if it had arrived over SMTP")
    ing.add_argument("file")
    ing.add_argument("--shop", required=True)
    ing.set_defaults(func=cmd_ingest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.command == "serve" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except config_mod.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except (ParseError, LayoutError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
