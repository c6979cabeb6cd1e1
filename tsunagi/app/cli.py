"""The tsunagi command: serve, demo, check, imports, and views of orders, stock and the spool."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from tsunagi.app import config as config_mod
from tsunagi.app.daemon import AlreadyRunning, feed_writer, open_parts, run_forever, take_lock
from tsunagi.ingest.spool import Spool
from tsunagi.oms import catalog, counting, orders, queries, status, stock
from tsunagi.oms.store import Store
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailspec import load_spec
from tsunagi.parsers.master import parse_counts, parse_products


def _config(args) -> config_mod.Config:
    path = args.config or os.environ.get("TSUNAGI_CONFIG") or "config.toml"
    return config_mod.load(path)


def _store(cfg) -> Store:
    return Store(cfg.db_path, cfg.store_synchronous)


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def cmd_serve(args) -> int:
    run_forever(_config(args))
    return 0


def cmd_demo(args) -> int:
    from tsunagi.app.demo import run_demo
    return run_demo(keep=args.keep)


def cmd_check(args) -> int:
    cfg = _config(args)
    for shop in cfg.shops:
        for cart in shop.mail_specs:
            spec = load_spec(cfg.spec_dir / f"{cart}.toml")
            print(f"shop {shop.id}: mail spec {cart} ({spec.title})")
        if shop.stock_feed:
            print(f"shop {shop.id}: stock feed {shop.stock_feed.layout}, safety stock {shop.stock_feed.safety_stock}")
        print(f"shop {shop.id}: takes order mail for {', '.join(shop.order_mail_to) or '(no address)'}")
    spool, store, _ = open_parts(cfg)
    feed_writer(cfg, spool, store)
    print(f"{cfg.path}: OK ({len(cfg.shops)} shops, data in {cfg.data_dir})")
    return 0


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


def cmd_orders(args) -> int:
    tx = _store(_config(args)).read()
    code = status.parse(args.status) if args.status else None
    views = [queries.order_view(tx, i) for i in queries.order_ids(tx, code, args.shop)]
    if args.json:
        _print_json(views)
        return 0
    for v in views:
        hold = f"  [{v['hold_reason']}]" if v["hold_reason"] else ""
        print(f"{v['shop']:<10} {v['order_no']:<28} {v['status_label']:<6} {v['ordered_at'][:16]} "
              f"{v['total']:>9,}円 {v['ship_to'].get('name', '')}{hold}")
    print(f"({len(views)} orders)")
    return 0


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
    sub.add_parser("check", help="validate the configuration, specs and layouts").set_defaults(func=cmd_check)
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
    o.set_defaults(func=cmd_orders)
    one = sub.add_parser("order", help="show one order")
    one.add_argument("shop")
    one.add_argument("order_no")
    one.add_argument("--json", action="store_true")
    one.set_defaults(func=cmd_order)
    sp = sub.add_parser("spool").add_subparsers(dest="sub", required=True)
    sp.add_parser("list", help="waiting and failed items").set_defaults(func=cmd_spool_list)
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
    except (ParseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
