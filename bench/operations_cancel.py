"""Benchmark: a bulk cancel of 10,000 orders through the domain function, with the stock and the feeds following.

    python bench/operations_cancel.py [--orders 10000] [--keep DIR]

Set-up (not timed): 500 products in stock, the orders imported from a Rakuten order CSV and made ready, half
of them exported in a label file (so that cancelling them voids their parcels). Timed, in this process:
cancel.cancel_order for every order through Store.in_chunks (as a bulk command would: intake waits at most
a chunk), then the one feed pass that publishes the freed units to both shops' stock files. Baseline in the
same run, on a copy of the database taken before: the bare SQL of the same cancel (one UPDATE of the
statuses, one DELETE of the reservations, one UPDATE of the stock figures) in one transaction."""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tsunagi.app import cli, config as config_mod, wiring  # noqa: E402
from tsunagi.demo.csvs import order_csv  # noqa: E402
from tsunagi.demo.mails import Item, SampleOrder  # noqa: E402
from tsunagi.ingest.spool import Spool  # noqa: E402
from tsunagi.oms import cancel  # noqa: E402

CONFIG = """data_dir = "var"
locations = ["本店倉庫"]
[smtp]
listen = "127.0.0.1:0"
[[carrier]]
name = "yamato"
layout = "yamato-b2"
result_layouts = ["yamato-b2-result-noheader"]
shipper = { name = "つなぎ商店", postal_code = "100-0001", address = "東京都千代田区千代田1-1", phone = "03-1234-5678" }
account = { billing_code = "012345678901", freight_no = "01" }
[[shop]]
id = "rakuten"
cart = "rakuten"
order_mail_to = ["r@orders.example.jp"]
order_csv = { layout = "rakuten-rms" }
stock_feed = { layout = "rakuten-normal-item" }
shipping = { delivery = { "宅配便" = "宅急便" }, payment = { "クレジットカード" = "prepaid" }, confirm_layout = "rakuten-shipping" }
[[shop]]
id = "yahoo"
cart = "yahoo"
order_mail_to = ["y@orders.example.jp"]
stock_feed = { layout = "yahoo-quantity", safety_stock = 1 }
"""


def run(*args: str) -> None:
    if cli.main(list(args)) != 0:
        raise SystemExit(f"failed: {args}")


def set_up(folder: Path, n: int) -> list[str]:
    """The data folder with n ready orders, the first half of them in a label file; the -c arguments."""
    config = folder / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (folder / "products.csv").write_text("sku,name\n" + "".join(f"sku-{i:04d},商品{i}\n" for i in range(500)))
    (folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:04d},本店倉庫,,1000000\n"
                                                                          for i in range(500)))
    c = ["-c", str(config)]
    run(*c, "products", "import", str(folder / "products.csv"))
    run(*c, "stock", "import", str(folder / "counts.csv"))
    for part, start in ((folder / "first.csv", 0), (folder / "second.csv", n // 2)):
        orders = [SampleOrder(f"402853-20260612-{k:010d}", [Item(f"sku-{k % 500:04d}", "商品", 1 + k % 2, 1280),
                                                              Item(f"sku-{(k + 7) % 500:04d}", "商品", 1, 980)])
                  for k in range(start, start + n // 2)]
        part.write_bytes(order_csv("rakuten-rms", orders))
        run(*c, "import", str(part), "--shop", "rakuten")
        if start == 0:
            run(*c, "ship", "export", "yamato", "--date", "2026-06-13")
    return c


def bare_cancel(db: Path, ids: list[int]) -> float:
    """Seconds for the cancel's bare SQL on a copy of the database (no ledger, no outbox, no history)."""
    conn = sqlite3.connect(db, isolation_level=None)
    t = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TEMP TABLE gone AS SELECT sku, location, lot, SUM(qty) AS qty FROM reservations "
                 "GROUP BY sku, location, lot")
    conn.execute("UPDATE stock SET reserved = reserved - (SELECT qty FROM gone g WHERE g.sku = stock.sku AND "
                 "g.location = stock.location AND g.lot = stock.lot) WHERE sku IN (SELECT sku FROM gone)")
    conn.execute("DELETE FROM reservations")
    conn.executemany("UPDATE orders SET status = 'cancelled' WHERE id = ?", [(i,) for i in ids])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t
    conn.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--keep")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="tsunagi-cancel-"))
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    c = set_up(folder, args.orders)
    print(f"set-up: {args.orders:,} orders imported and made ready, half in a label file, in "
          f"{time.perf_counter() - t:.0f} s (not timed below)")
    cfg = config_mod.load(c[1])
    spool, store = Spool(cfg.spool_dir), wiring.open_store(cfg)
    ids = [r[0] for r in store.read().all("SELECT id FROM orders ORDER BY id")]
    copy = folder / "baseline.db"
    with sqlite3.connect(cfg.db_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    before = len(list((spool.dir("outbox") / "yahoo" / "ready").glob("*")))

    t = time.perf_counter()
    outcomes = store.in_chunks(ids, lambda tx, order_id: cancel.cancel_order(tx, order_id, "bench", "一括キャンセル"))
    cancelled = time.perf_counter() - t
    t = time.perf_counter()
    files = wiring.feed_writer(cfg, spool, store).flush()
    feeds = time.perf_counter() - t
    bare = bare_cancel(copy, ids)

    tx = store.read()
    left = tx.value("SELECT COUNT(*) FROM reservations")
    voided = sum(len(o.voided) for o in outcomes)
    reserved = tx.value("SELECT SUM(reserved) FROM stock")
    assert left == 0 and reserved == 0 and voided == args.orders // 2, (left, reserved, voided)
    assert tx.value("SELECT COUNT(*) FROM orders WHERE status = 'cancelled'") == args.orders
    assert len(list((spool.dir("outbox") / "yahoo" / "ready").glob("*"))) > before
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
    print(f"baseline, bare SQL of the same cancel on a copy (statuses, reservations, stock figures): {bare:.2f} s")
    print(f"bulk cancel: {args.orders:,} orders through cancel.cancel_order in {cancelled:.2f} s "
          f"({args.orders / cancelled:,.0f} orders/s, {cancelled / bare:.0f}x the bare SQL), {voided:,} labels voided")
    print(f"feeds: the freed units of 500 SKUs published in {len(files)} files in {feeds:.2f} s")
    print(f"bulk cancel with the feeds following: {cancelled + feeds:.2f} s  (aim: < 10 s)")
    store.close()
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
