"""Commands for the catalog and stock: import or delete products, show stock, import counts."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from tsunagi.app.commands import base
from tsunagi.common import clock
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool
from tsunagi.oms import catalog, catalogdelete, catalogrules, counting, orders, stock
from tsunagi.parsers import csvfile
from tsunagi.parsers.csvfields import RowProblem
from tsunagi.parsers.csvread import check_line_lengths
from tsunagi.parsers.errors import ParseError


def register(sub) -> None:
    products = sub.add_parser("products").add_subparsers(dest="sub", required=True)
    pi = products.add_parser("import", help="a products CSV (sku,name[,components,channel_sku,shop,tags]; "
                                            "layout chosen by header from csv.product_layouts)")
    pi.add_argument("file")
    pi.add_argument("--layout", help="the file's products layout (default: chosen by its header)")
    pi.set_defaults(func=cmd_products_import)
    pd = products.add_parser("delete", help="remove a product with no open orders from the catalog and the feeds")
    pd.add_argument("sku")
    pd.add_argument("--force", action="store_true", help="delete it even with stock on hand (counted to 0 first)")
    pd.set_defaults(func=cmd_products_delete)
    st = sub.add_parser("stock", help="show stock, or import counts")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stock)
    st_sub = st.add_subparsers(dest="sub")
    si = st_sub.add_parser("import", help="a count CSV (sku,location,lot,qty: absolute counts; layout chosen by "
                                          "header from csv.stock_layouts)")
    si.add_argument("file")
    si.add_argument("--layout", help="the file's stock layout (default: chosen by its header)")
    si.set_defaults(func=cmd_stock_import)


def _report(kind: str, done: int, changed: int, problems: list[RowProblem]) -> int:
    for p in sorted(problems, key=lambda p: p.row):
        base.stderr(f"  {p.message}")
    refused = len({p.row for p in problems})
    print(f"{kind}: {done} rows applied, {changed} changed, {refused} rows refused")
    return 1 if problems else 0


def _layout(cfg, args, kind: str, names: list[str]):
    """The layout the command line names (of this kind), else the first of names whose columns the header has."""
    if args.layout:
        layout = cfg.csv_layout(args.layout)
        if layout.kind != kind:
            raise TsunagiError(f"layout {args.layout!r} is a {layout.kind} layout, not {kind}")
        return layout
    return csvfile.choose_layout(csvfile.read_sample(Path(args.file)), [cfg.csv_layout(n) for n in names])


@contextmanager
def _opened(cfg, path: str):
    """The file and a scratch path for its UTF-8 copy: read by the rules order files are read by (line
    lengths, then the encoding decoded whole, refused naming the byte)."""
    with open(path, "rb") as src, tempfile.TemporaryDirectory(prefix="tsunagi-") as tmp:
        try:
            check_line_lengths(src, cfg.max_line_bytes)
            src.seek(0)
            yield src, Path(tmp) / "decoded.csv"
        except ParseError as exc:
            raise ParseError(f"{path}: {exc.message}", stage=exc.stage, kind=exc.kind) from None


def cmd_products_import(args) -> int:
    cfg = base.config(args)
    base.input_file(args.file)
    store = base.writer(cfg)
    problems: list[RowProblem] = []

    def upsert(tx, item) -> int:
        rec, row = item
        try:
            catalog.upsert_product(tx, catalogrules.checked_product(tx, rec, cfg.sku_case))
        except catalogrules.Refused as exc:
            problems.append(RowProblem(row, "sku", rec.sku, f"行 {row}: {exc}"))
            return 0
        return 1

    done, sets = 0, []
    with _opened(cfg, args.file) as (src, scratch):
        layout = _layout(cfg, args, "products", cfg.product_layouts)
        _, chunks = csvfile.parse_file(src, layout, "", scratch)
        for chunk in chunks:
            problems += chunk.problems
            # Sets after every plain product: a set may list parts further down the file.
            sets += [p for p in chunk.products if p[0].components]
            # in chunks, so mails applied meanwhile wait at most one; upserts are safe to run again
            done += sum(store.in_chunks([p for p in chunk.products if not p[0].components], upsert))
    done += sum(store.in_chunks(sets, upsert))
    with store.transaction() as tx:
        placed = orders.retry_waiting(tx)
    if placed:
        print(f"{placed} held or waiting orders were placed")
    return _report("products", done, done, problems)


def cmd_products_delete(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    with store.transaction() as tx:
        gone = catalogdelete.delete_product(tx, args.sku, force=args.force)
    base.flush_feeds_if_idle(cfg, Spool(cfg.spool_dir), store)    # a channel that held it told 0 at once
    codes = f"; channel codes {', '.join(gone.channel_codes)} removed" if gone.channel_codes else ""
    counted = (f"; stock counted to 0 ({', '.join(f'{loc} {n}' for loc, _, n in gone.counted_away)})"
               if gone.counted_away else "")
    print(f"product {gone.sku} deleted{codes}{counted}; it leaves the stock feeds")
    return 0


def cmd_stock_import(args) -> int:
    cfg = base.config(args)
    base.input_file(args.file)
    file_time = clock.at(os.stat(args.file).st_mtime)     # a count without a time of its own: the file's
    ref = f"import:{Path(args.file).name}"
    store = base.writer(cfg)
    problems: list[RowProblem] = []

    def count(tx, item) -> int:
        rec, row = item
        rec = rec if rec.counted_at else replace(rec, counted_at=file_time)
        try:
            return 1 + counting.apply_count(tx, rec, ref, known_only=True, sku_case=cfg.sku_case)
        except ValueError as exc:
            problems.append(RowProblem(row, "sku", rec.sku, f"行 {row}: {exc}"))
            return 0

    with store.transaction() as tx:
        stock.set_locations(tx, cfg.locations)
    results: list[int] = []
    with _opened(cfg, args.file) as (src, scratch):
        layout = _layout(cfg, args, "stock", cfg.stock_layouts)
        _, chunks = csvfile.parse_file(src, layout, "", scratch)
        for chunk in chunks:
            problems += chunk.problems
            # Counts are absolute: committed in chunks (mails applied meanwhile wait at most one), and an
            # import stopped part-way is finished by running it again, which changes nothing already counted.
            results += store.in_chunks(chunk.counts, count)
    changed = results.count(2)
    with store.transaction() as tx:
        placed = orders.retry_waiting(tx) if changed else 0
    if placed:
        print(f"{placed} orders waiting for stock were placed")
    return _report("stock", len(results) - results.count(0), changed, problems)


def cmd_stock(args) -> int:
    rows = stock.rows(base.reader(base.config(args)).read())
    if args.json:
        base.print_json(rows)
        return 0
    print(f"{'SKU':<20} {'在庫':>6} {'引当':>6} {'フリー':>6}")
    for r in rows:
        print(f"{r['sku']:<20} {r['on_hand']:>6} {r['reserved']:>6} {r['free']:>6}")
    return 0
