"""Commands for the catalog and stock: import products, show stock, import counts."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from tsunagi.app.commands import base
from tsunagi.common import clock
from tsunagi.oms import catalog, counting, orders, stock
from tsunagi.parsers.master import parse_counts, parse_products


def register(sub) -> None:
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


def _report(kind: str, done: int, changed: int, problems: list[str]) -> int:
    for p in problems:
        base.stderr(f"  {p}")
    print(f"{kind}: {done} rows applied, {changed} changed, {len(problems)} rows refused")
    return 1 if problems else 0


def cmd_products_import(args) -> int:
    cfg = base.config(args)
    records, problems = parse_products(Path(args.file).read_bytes())
    store = base.writer(cfg)
    # in chunks, so mails applied meanwhile wait at most one; upserts are safe to run again
    store.in_chunks(records, catalog.upsert_product)
    with store.transaction() as tx:
        placed = orders.retry_waiting(tx)
    if placed:
        print(f"{placed} held or waiting orders were placed")
    return _report("products", len(records), len(records), problems)


def cmd_stock_import(args) -> int:
    cfg = base.config(args)
    records, problems = parse_counts(Path(args.file).read_bytes())
    file_time = clock.at(os.stat(args.file).st_mtime)     # a count without a time of its own: the file's
    records = [rec if rec.counted_at else replace(rec, counted_at=file_time) for rec in records]
    ref = f"import:{Path(args.file).name}"
    store = base.writer(cfg)
    with store.transaction() as tx:
        stock.set_locations(tx, cfg.locations)
    # Counts are absolute: committed in chunks (mails applied meanwhile wait at most one), and an
    # import stopped part-way is finished by running it again, which changes nothing already counted.
    counted = store.in_chunks(records, lambda tx, rec: _count(tx, rec, ref, problems))
    changed = sum(c is True for c in counted)
    with store.transaction() as tx:
        placed = orders.retry_waiting(tx) if changed else 0
    if placed:
        print(f"{placed} orders waiting for stock were placed")
    return _report("stock", sum(c is not None for c in counted), changed, problems)


def _count(tx, rec, ref: str, problems: list[str]) -> bool | None:
    """One count applied (True: the figure changed); None for one older than the figure's own count,
    which is refused and reported."""
    try:
        return counting.apply_count(tx, rec, ref)
    except counting.StaleCount as exc:
        problems.append(str(exc))
        return None


def cmd_stock(args) -> int:
    rows = stock.rows(base.reader(base.config(args)).read())
    if args.json:
        base.print_json(rows)
        return 0
    print(f"{'SKU':<20} {'在庫':>6} {'引当':>6} {'フリー':>6}")
    for r in rows:
        print(f"{r['sku']:<20} {r['on_hand']:>6} {r['reserved']:>6} {r['free']:>6}")
    return 0
